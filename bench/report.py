#!/usr/bin/env python3
"""Helpers of bench/run.sh: parse tool outputs into JSON, and render the results table.

    report.py h2load FILE            h2load's text output -> JSON (rps, request counts, mean latency)
    report.py redis FILE             redis-benchmark --csv output -> JSON
    report.py bdn DIR                BenchmarkDotNet *-report.csv files in DIR -> JSON {Class.Method: {meanNs, allocatedB}}
    report.py render --results JSONL --meta JSON --out MD [--charts DIR] [--update RESULTS.md]

Results are JSON lines {"name": ..., "data": {...}} appended by run.sh. Targets are reported, never asserted: the
exit code of render says only whether the inputs could be read.
"""

import csv
import glob
import json
import os
import re
import sys

BEGIN = "<!-- results:begin (written by bench/run.sh) -->"
# The charts bench/charts.py writes, in the order the report shows them. Linked as charts/NAME: bench/out/results.md
# sits next to bench/out/charts, and RESULTS.md next to bench/charts, where a full run copies them.
CHARTS = (("throughput.svg", "Throughput by stream count"), ("latency.svg", "Latency percentiles by stream count"),
          ("restart.svg", "Restart (exec → ready) and RSS by number of customers"))
END = "<!-- results:end -->"


def h2load(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    out = {}
    m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", text)
    if not m:
        raise SystemExit("report.py: no 'finished in' line in %s" % path)
    out["rps"] = float(m.group(2))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    if m:
        keys = ["total", "started", "done", "succeeded", "failed", "errored", "timeout"]
        out.update({k: int(v) for k, v in zip(keys, m.groups())})
    m = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", text)
    if m:
        g = m.groups()
        out["minUs"], out["maxUs"], out["meanUs"], out["sdUs"] = (to_us(g[i], g[i + 1]) for i in (0, 2, 4, 6))
    return out


def median(path):
    """The round with the median req/s of an h2load series (one JSON per line), with every round's req/s."""
    rounds = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    chosen = dict(sorted(rounds, key=lambda r: r["rps"])[(len(rounds) - 1) // 2])
    chosen["roundsRps"] = [r["rps"] for r in rounds]
    return chosen


def to_us(value, unit):
    return round(float(value) * {"us": 1, "ms": 1000, "s": 1_000_000}[unit], 1)


def redis(path):
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    if not rows:
        raise SystemExit("report.py: no rows in %s" % path)
    r = rows[-1]
    return {"rps": float(r["rps"]), "meanUs": float(r["avg_latency_ms"]) * 1000,
            "p50Us": float(r["p50_latency_ms"]) * 1000, "p99Us": float(r["p99_latency_ms"]) * 1000,
            "maxUs": float(r["max_latency_ms"]) * 1000}


def parse_quantity(text):
    """'45.67 ns' / '1,234.5 us' / '144 B' / '1.2 KB' / '-' -> number in ns or bytes."""
    text = (text or "").strip()
    if text in ("", "-", "NA", "?"):
        return 0.0 if text == "-" else None
    m = re.match(r"([\d,.]+)\s*([a-zA-Zμ]+)?", text)
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    unit = (m.group(2) or "").replace("μ", "u")
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "": 1}
    return value * scale.get(unit, 1)


def bdn(directory):
    out = {}
    for path in glob.glob(os.path.join(directory, "*-report.csv")):
        klass = os.path.basename(path).split("-report")[0].split(".")[-1]
        for row in csv.DictReader(open(path, encoding="utf-8")):
            name = klass + "." + row["Method"]
            if row.get("Customers"):
                name += "(%s)" % row["Customers"]
            out[name] = {"meanNs": parse_quantity(row.get("Mean")), "allocatedB": parse_quantity(row.get("Allocated"))}
    return out


# ---------------------------------------------------------------------------------------------------------------------

def fmt_us(v):
    if v is None:
        return "n/a"
    return "%.0f µs" % v if v >= 100 else "%.1f µs" % v


def fmt_cpu(v):
    return "n/a" if v is None else "%.1f µs" % v


def fmt_rps(v):
    return "n/a" if v is None else "{:,.0f}".format(v)


def ratio(a, b):
    return None if not a or not b else a / b


def fmt_ratio(v):
    return "n/a" if v is None else "%.2fx" % v


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def render(results_path, meta_path, out_path, update_path, charts_dir=None):
    meta = json.load(open(meta_path, encoding="utf-8"))
    res = {}
    for line in open(results_path, encoding="utf-8"):
        line = line.strip()
        if line:
            item = json.loads(line)
            res[item["name"]] = item["data"]

    def get(name, key=None):
        d = res.get(name)
        if d is None or key is None:
            return d
        return d.get(key)

    streams = meta["streams"]
    lines = []
    w = lines.append
    if meta.get("against"):
        render_against(meta, get, w)
        charts(charts_dir, w)
        return write(lines, out_path, update_path)
    w("Run: `%s` — %s, commit `%s`%s" % (meta["command"], meta["date"], meta["commit"], " (smoke: tiny datasets, not a measurement)" if meta["smoke"] else ""))
    if meta.get("sidecarEnv"):
        w("")
        w("Extra sidecar environment: `%s`." % meta["sidecarEnv"])
    w("")
    w("Machine: %s, %s logical cores, %s GB RAM, %s. Load average at start: %s." % (
        meta["cpu"], meta["cores"], meta["memGb"], meta["kernel"], meta["loadavg"]))
    w("")
    w("Dataset: %s customers × %s entitlements (booleans, numeric, metered, enums, credits), ENTITLEMENTS_FILE mode; "
      "access skew Zipf s=%s for the percentile runs; h2load sends one pre-encoded request (one customer) per target. "
      "Load: %s s measured after %s s warm-up per point; concurrent points use %s HTTP/2 connections." % (
          meta["customers"], meta["features"], meta["zipf"], meta["duration"], meta["warmup"], meta["connections"]))
    w("")

    # --- targets --------------------------------------------------------------------------------------------------
    w("### Targets (reported, not asserted)")
    w("")
    w("| Target | Goal | Measured | |")
    w("|---|---|---|---|")
    hit = get("bdn") or {}
    hit_ns = (hit.get("HitPathBenchmarks.HitAndEvaluateBoolean") or {}).get("meanNs")
    hit_b = (hit.get("HitPathBenchmarks.HitAndEvaluateBoolean") or {}).get("allocatedB")
    resp_b = (hit.get("HitPathBenchmarks.BooleanResponseOnly") or {}).get("allocatedB")
    extra_b = None if hit_b is None or resp_b is None else hit_b - resp_b
    w("| In-process hit + evaluate (BenchmarkDotNet, boolean) | ≤ 100 ns, 0 B beyond the response | %s, %s beyond the response (%s total) | %s |" % (
        "n/a" if hit_ns is None else "%.1f ns" % hit_ns,
        "n/a" if extra_b is None else "%d B" % extra_b,
        "n/a" if hit_b is None else "%d B" % hit_b,
        "n/a (dry job)" if meta["bdnJob"] == "dry" else verdict(None if hit_ns is None or extra_b is None else (hit_ns <= 100 and extra_b <= 0))))
    tp = str(meta["throughputStreams"])
    sc, fl, nd = get("h2load.sidecar.%s" % tp, "rps"), get("h2load.health.%s" % tp, "rps"), get("h2load.node.%s" % tp, "rps")
    r_floor, r_node = ratio(sc, fl), ratio(sc, nd)
    w("| gRPC cached check throughput vs floor (Health/Check, same server), %s streams | ≥ 0.95x | %s vs %s req/s = %s | %s |" % (
        tp, fmt_rps(sc), fmt_rps(fl), fmt_ratio(r_floor), verdict(None if r_floor is None else r_floor >= 0.95)))
    w("| gRPC cached check throughput vs Node @grpc/grpc-js peer, %s streams | ≥ 5x | %s vs %s req/s = %s | %s |" % (
        tp, fmt_rps(sc), fmt_rps(nd), fmt_ratio(r_node), verdict(None if r_node is None else r_node >= 5)))
    p1 = get("load.sidecar.boolean.1", "p99Us")
    w("| p99 latency, 1 stream (load client, Zipf) | < 250 µs | %s | %s |" % (fmt_us(p1), verdict(None if p1 is None else p1 < 250)))
    f1 = get("load.health.1", "p99Us")
    r_p99 = ratio(p1, f1)
    w("| p99 latency, 1 stream, vs the floor's in the same run | ≤ 1.25x | %s vs %s = %s | %s |" % (
        fmt_us(p1), fmt_us(f1), fmt_ratio(r_p99), verdict(None if r_p99 is None else r_p99 <= 1.25)))
    p64 = get("load.sidecar.boolean.%s" % tp, "p99Us")
    w("| p99 latency, %s streams | < 1 ms | %s | %s |" % (tp, fmt_us(p64), verdict(None if p64 is None else p64 < 1000)))
    ready = get("startup.sample", "medianMs")
    w("| exec → /readyz 200 (sample file, median of %s) | ≤ 100 ms | %s | %s |" % (
        get("startup.sample", "runs") or "n/a", "n/a" if ready is None else "%.1f ms" % ready, verdict(None if ready is None else ready <= 100)))
    load_rss = get("rss.main", "loadMb")
    w("| Peak RSS under load (%s customers, every load step) | ≤ 64 MB | %s | %s |" % (
        meta["customers"], "n/a" if load_rss is None else "%.1f MB" % load_rss, verdict(None if load_rss is None else load_rss <= 64)))
    rss = get("rss.sample", "idleMb")
    w("| Idle RSS (sample file) | ≤ 40 MB (≤ 32 MB stretch) | %s | %s |" % (
        "n/a" if rss is None else "%.1f MB" % rss, verdict(None if rss is None else rss <= 40) + ("" if rss is None or rss <= 32 else "; stretch not met")))
    size = get("binary", "mb")
    w("| AOT binary size | ≤ 25 MB | %s | %s |" % ("n/a" if size is None else "%.1f MB" % size, verdict(None if size is None else size <= 25)))
    sizes = meta["sizes"]
    small, large = get("size.%s" % sizes[0], "p50Us"), get("size.%s" % sizes[-1], "p50Us")
    flat = ratio(large, small) if len(sizes) > 1 else None
    w("| Hit latency flat with cached customers (p50, %s → %s) | within 1.2x | %s → %s = %s | %s |" % (
        sizes[0], sizes[-1], fmt_us(small), fmt_us(large) if len(sizes) > 1 else "n/a", fmt_ratio(flat),
        verdict(None if flat is None else flat <= 1.2)))
    t_small = (hit.get("HotTierBenchmarks.TryGet(1000)") or {}).get("meanNs")
    t_large = (hit.get("HotTierBenchmarks.TryGet(1000000)") or {}).get("meanNs")
    t_flat = ratio(t_large, t_small)
    w("| Hit latency flat, in process (`HotTier.TryGet`, random customer, 1k → 1M) | within 1.2x | %s → %s = %s | %s |" % (
        "n/a" if t_small is None else "%.1f ns" % t_small, "n/a" if t_large is None else "%.1f ns" % t_large, fmt_ratio(t_flat),
        verdict(None if t_flat is None else t_flat <= 1.2)))
    storm = get("storm") or {}
    cpc = storm.get("callsPerCustomer")
    w("| Miss storm: upstream calls per distinct customer (%s checks over %s customers, Edge latency %s ms) | 1 | %s (%s calls), p99 %s | %s |" % (
        storm.get("checks", "n/a"), storm.get("distinctCustomers", "n/a"), meta["edgeLatencyMs"],
        "n/a" if cpc is None else "%.2f" % cpc, storm.get("upstreamCalls", "n/a"), fmt_us(storm.get("p99Us")),
        verdict(None if cpc is None else cpc <= 1.0)))
    w("")

    # --- throughput -----------------------------------------------------------------------------------------------
    w("### Throughput (h2load, req/s)")
    w("")
    w("| Streams | sidecar GetBooleanEntitlement | floor: Health/Check | ratio to floor | Node @grpc/grpc-js peer | ratio to Node | Redis GET (redis-benchmark) |")
    w("|---|---|---|---|---|---|---|")
    for s in streams:
        a, f, n = (get("h2load.%s.%s" % (t, s), "rps") for t in ("sidecar", "health", "node"))
        r = get("redis.%s" % s, "rps")
        w("| %s | %s | %s | %s | %s | %s | %s |" % (s, fmt_rps(a), fmt_rps(f), fmt_ratio(ratio(a, f)), fmt_rps(n), fmt_ratio(ratio(a, n)), fmt_rps(r)))
    w("")
    cpu = [(s, [get("h2load.%s.%s" % (t, s), "cpuUsPerReq") for t in ("sidecar", "health", "node")]) for s in streams]
    if any(v is not None for _, row in cpu for v in row):
        w("Server CPU per request over the measured window (user + system, `/proc/PID/stat`; the median round's): what a "
          "request costs the server, much less sensitive than req/s to what else runs on these shared cores.")
        w("")
        w("| Streams | sidecar GetBooleanEntitlement | floor: Health/Check | sidecar / floor | Node peer |")
        w("|---|---|---|---|---|")
        for s, (a, f, n) in cpu:
            w("| %s | %s | %s | %s | %s |" % (s, fmt_cpu(a), fmt_cpu(f), fmt_ratio(ratio(a, f)), fmt_cpu(n)))
        w("")
    rounds(get, streams, (("sidecar", "sidecar"), ("health", "floor"), ("node", "Node peer")), w)

    # --- latency --------------------------------------------------------------------------------------------------
    w("### Latency (load client: HTTP/2 + pre-encoded frames, every call recorded)")
    w("")
    w("| Target | Streams | req/s | p50 | p99 | p99.9 | max |")
    w("|---|---|---|---|---|---|---|")
    for key, label in (("load.sidecar.boolean", "sidecar GetBooleanEntitlement"),
                       ("load.sidecar.metered", "sidecar GetMeteredEntitlement"),
                       ("load.sidecar.v2-credit", "sidecar GetEntitlementV2 (credit)"),
                       ("load.health", "floor: Health/Check"),
                       ("load.node.boolean", "Node peer GetBooleanEntitlement")):
        for s in streams:
            d = get("%s.%s" % (key, s))
            if d:
                w("| %s | %s | %s | %s | %s | %s | %s |" % (label, s, fmt_rps(d["rps"]), fmt_us(d["p50Us"]), fmt_us(d["p99Us"]), fmt_us(d["p999Us"]), fmt_us(d["maxUs"])))
    for s in streams:
        d = get("redis.%s" % s)
        if d:
            w("| Redis GET (redis-benchmark) | %s | %s | %s | %s | n/a | %s |" % (s, fmt_rps(d["rps"]), fmt_us(d["p50Us"]), fmt_us(d["p99Us"]), fmt_us(d["maxUs"])))
    w("")

    # --- footprint, sizes, storm ----------------------------------------------------------------------------------
    w("### Footprint and start")
    w("")
    w("| Measure | Value |")
    w("|---|---|")
    w("| AOT binary (`bench/out/publish/sidecar`) | %s |" % ("n/a" if size is None else "%.2f MB (%d bytes)" % (size, get("binary", "bytes"))))
    st = get("startup.sample") or {}
    w("| exec → ready, sample file (min / median / max of %s) | %s / %s / %s ms |" % (st.get("runs", "n/a"), st.get("minMs"), st.get("medianMs"), st.get("maxMs")))
    w("| exec → ready, %s-customer dataset | %s ms |" % (meta["customers"], get("startup.main", "readyMs")))
    w("| Idle RSS, sample file | %s MB |" % get("rss.sample", "idleMb"))
    w("| Idle RSS, %s-customer dataset | %s MB |" % (meta["customers"], get("rss.main", "idleMb")))
    w("| Peak RSS under load, %s-customer dataset | %s MB |" % (meta["customers"], get("rss.main", "loadMb")))
    w("")
    idle, load = get("memory.idle"), get("memory.load")
    if idle and load:
        w("### Where the memory is (%s customers; runtime metrics and /proc, `bench/memory_snapshot.py`)" % meta["customers"])
        w("")
        w("Idle: after start. Under load: right after h2load's %s-stream run on GetBooleanEntitlement." % tp)
        w("")
        w("| | Idle | Under load |")
        w("|---|---|---|")
        w("| RSS | %.1f MB | %.1f MB |" % (idle["rssMb"], load["rssMb"]))
        w("| — anonymous (GC heap, stacks, native) | %.1f MB | %.1f MB |" % (idle["rssAnonMb"], load["rssAnonMb"]))
        w("| — file-backed (the binary's code and data, libraries) | %.1f MB | %.1f MB |" % (idle["rssFileMb"], load["rssFileMb"]))
        w("| GC committed | %.1f MB | %.1f MB |" % (idle["gcCommittedMb"], load["gcCommittedMb"]))
        for g in ("gen0", "gen1", "gen2", "loh", "poh"):
            w("| — %s after the last collection | %.2f MB | %.2f MB |" % (g, idle["heapMb"][g], load["heapMb"][g]))
        w("| Threads | %d | %d |" % (idle["threads"], load["threads"]))
        since = load.get("collectionsSince") or {}
        w("| Bytes allocated per check (whole server: Kestrel, grpc-dotnet, ours) | | %s B over %s checks |" % (
            load.get("allocatedPerRequest", "n/a"), "{:,}".format(load.get("requestsSince", 0))))
        w("| Collections during the run (gen0 / gen1 / gen2) | | %s / %s / %s |" % (since.get("gen0"), since.get("gen1"), since.get("gen2")))
        w("")
    w("### Hit latency by number of cached customers (%s entitlements each, uniform access, 1 stream)" % meta["sizeFeatures"])
    w("")
    w("| Customers | exec → ready | RSS | req/s | p50 | p99 | p99.9 |")
    w("|---|---|---|---|---|---|---|")
    for n in sizes:
        d = get("size.%s" % n)
        if d:
            w("| %s | %s ms | %s MB | %s | %s | %s | %s |" % ("{:,}".format(int(n)), d["readyMs"], d["rssMb"], fmt_rps(d["rps"]), fmt_us(d["p50Us"]), fmt_us(d["p99Us"]), fmt_us(d["p999Us"])))
    w("")
    if storm:
        w("### Miss storm (upstream mode against the emulator, Edge latency %s ms)" % meta["edgeLatencyMs"])
        w("")
        w("| Checks | Distinct customers | Event stream | Edge calls | GraphQL calls | Calls / customer | Fallback answers | Errors | p50 | p99 | max |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        w("| %s | %s | %s | %s | %s | %.2f | %s | %s | %s | %s | %s |" % (
            storm["checks"], storm["distinctCustomers"], storm.get("events", "n/a"), storm["edgeCalls"], storm["graphQlCalls"], storm["callsPerCustomer"],
            storm["fallbacks"], storm["errors"], fmt_us(storm["p50Us"]), fmt_us(storm["p99Us"]), fmt_us(storm["maxUs"])))
        w("")
    if hit:
        w("### BenchmarkDotNet (%s)" % meta["bdnJob"])
        w("")
        w("| Benchmark | Mean | Allocated |")
        w("|---|---|---|")
        for name in sorted(hit):
            d = hit[name]
            w("| %s | %s | %s |" % (name, "n/a" if d["meanNs"] is None else "%.1f ns" % d["meanNs"], "n/a" if d["allocatedB"] is None else "%d B" % d["allocatedB"]))
        w("")

    charts(charts_dir, w)
    return write(lines, out_path, update_path)


def rounds(get, streams, targets, w):
    """h2load's rounds: each figure above is the median of rounds that interleave the targets."""
    series = [(s, label, (get("h2load.%s.%s" % (t, s)) or {}).get("roundsRps")) for s in streams for t, label in targets]
    series = [(s, label, r) for s, label, r in series if r]
    if not series or max(len(r) for _, _, r in series) < 2:
        return
    w("Each throughput figure is the median of %d rounds that take turns with the other targets; every round's req/s:" % len(series[0][2]))
    w("")
    for s, label, r in series:
        w("- %s streams, %s: %s" % (s, label, " / ".join(fmt_rps(v) for v in r)))
    w("")


def charts(charts_dir, w):
    present = [(name, title) for name, title in CHARTS if charts_dir and os.path.exists(os.path.join(charts_dir, name))]
    if not present:
        return
    w("### Charts")
    w("")
    for name, title in present:
        w("![%s](charts/%s)" % (title, name))
        w("")


def render_against(meta, get, w):
    """--against: the throughput and latency steps on a server the harness did not start, in the same tables."""
    streams, tp, method = meta["streams"], str(meta["throughputStreams"]), meta.get("method") or "n/a"
    w("Run: `%s` — %s, harness commit `%s`%s" % (meta["command"], meta["date"], meta["commit"],
                                                " (smoke: 1 s points, not a measurement)" if meta["smoke"] else ""))
    w("")
    w("Target: `%s`, a server this run did not start; customer `%s`, feature `%s`, checked with `%s` (the first typed "
      "getter that answered with the entitlement). Floor: %s." % (
          meta["against"], meta["customer"], meta["feature"], method,
          "`grpc.health.v1.Health/Check` on the same server" if meta.get("floor")
          else "not measured — the target does not serve `grpc.health.v1.Health/Check`"))
    w("")
    w("Load generator: %s, %s logical cores, %s GB RAM, %s. Load average at start: %s. Every call asks for the same "
      "customer and feature; %s s measured after %s s warm-up per point; concurrent points use %s HTTP/2 connections. "
      "Not measured here (they need the server's process or its dataset): start-up, RSS, the size sweep, the miss "
      "storm, the Node peer, Redis." % (
          meta["cpu"], meta["cores"], meta["memGb"], meta["kernel"], meta["loadavg"], meta["duration"], meta["warmup"],
          meta["connections"]))
    w("")
    w("### Targets (reported, not asserted)")
    w("")
    w("| Target | Goal | Measured | |")
    w("|---|---|---|---|")
    sc, fl = get("h2load.sidecar.%s" % tp, "rps"), get("h2load.health.%s" % tp, "rps")
    r_floor = ratio(sc, fl)
    w("| gRPC cached check throughput vs floor (Health/Check, same server), %s streams | ≥ 0.95x | %s vs %s req/s = %s | %s |" % (
        tp, fmt_rps(sc), fmt_rps(fl), fmt_ratio(r_floor), verdict(None if r_floor is None else r_floor >= 0.95)))
    p1 = get("load.sidecar.boolean.1", "p99Us")
    w("| p99 latency, 1 stream (load client) | < 250 µs | %s | %s |" % (fmt_us(p1), verdict(None if p1 is None else p1 < 250)))
    pn = get("load.sidecar.boolean.%s" % tp, "p99Us")
    w("| p99 latency, %s streams | < 1 ms | %s | %s |" % (tp, fmt_us(pn), verdict(None if pn is None else pn < 1000)))
    w("")
    w("### Throughput (h2load, req/s)")
    w("")
    w("| Streams | target %s | floor: Health/Check | ratio to floor |" % method)
    w("|---|---|---|---|")
    for s in streams:
        a, f = get("h2load.sidecar.%s" % s, "rps"), get("h2load.health.%s" % s, "rps")
        w("| %s | %s | %s | %s |" % (s, fmt_rps(a), fmt_rps(f), fmt_ratio(ratio(a, f))))
    w("")
    rounds(get, streams, (("sidecar", "target"), ("health", "floor")), w)
    w("### Latency (load client: HTTP/2 + pre-encoded frames, every call recorded)")
    w("")
    w("| Target | Streams | req/s | p50 | p99 | p99.9 | max |")
    w("|---|---|---|---|---|---|---|")
    for key, label in (("load.sidecar.boolean", "target " + method), ("load.health", "floor: Health/Check")):
        for s in streams:
            d = get("%s.%s" % (key, s))
            if d:
                w("| %s | %s | %s | %s | %s | %s | %s |" % (label, s, fmt_rps(d["rps"]), fmt_us(d["p50Us"]), fmt_us(d["p99Us"]), fmt_us(d["p999Us"]), fmt_us(d["maxUs"])))
    w("")


def write(lines, out_path, update_path):
    body = "\n".join(lines)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(body + "\n")
    if update_path:
        update(update_path, body)
    print(body)


def update(path, body):
    block = BEGIN + "\n" + body + "\n" + END
    if os.path.exists(path):
        text = open(path, encoding="utf-8").read()
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = "# Benchmark results\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv):
    if len(argv) >= 2 and argv[0] == "h2load":
        print(json.dumps(h2load(argv[1])))
    elif len(argv) >= 2 and argv[0] == "median":
        print(json.dumps(median(argv[1])))
    elif len(argv) >= 2 and argv[0] == "redis":
        print(json.dumps(redis(argv[1])))
    elif len(argv) >= 2 and argv[0] == "bdn":
        print(json.dumps(bdn(argv[1])))
    elif argv and argv[0] == "render":
        opts = dict(zip(argv[1::2], argv[2::2]))
        render(opts["--results"], opts["--meta"], opts["--out"], opts.get("--update"), opts.get("--charts"))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
