#!/usr/bin/env python3
"""Where a running sidecar's memory is, from the kernel and the runtime's own metrics; prints one JSON object.

    python3 bench/memory_snapshot.py PID METRICS_URL [--since EARLIER_JSON]

- RSS split into anonymous memory (GC heap, stacks, native allocations) and file-backed pages (the binary's code and
  read-only data, shared libraries), from /proc/PID/status; threads.
- The GC's committed memory and the size of each generation after the last collection, collections so far and bytes
  allocated (the System.Runtime meter on /metrics).
- With --since (an earlier output): bytes allocated per gRPC request the sidecar answered in between
  (sidecar_grpc_requests_total) and collections in between.
"""
import argparse
import json
import re
import sys
import urllib.request


def proc_status(pid):
    out = {}
    for line in open("/proc/%d/status" % pid, encoding="utf-8"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(value.split()[0]) / 1024.0
        elif key == "Threads":
            out[key] = int(value)
    return out


def scrape(url):
    text = urllib.request.urlopen(url, timeout=10).read().decode("utf-8")
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)", line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
            samples.append((m.group(1), labels, float(m.group(4))))
    return samples


def pick(samples, name, **labels):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == val for k, val in labels.items()))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pid", type=int)
    p.add_argument("metrics_url")
    p.add_argument("--since", help="an earlier output of this script")
    a = p.parse_args(argv)

    st = proc_status(a.pid)
    m = scrape(a.metrics_url)
    mb = 1024.0 * 1024.0
    gens = ("gen0", "gen1", "gen2", "loh", "poh")
    snap = {
        "rssMb": round(st["VmRSS"], 1),
        "rssAnonMb": round(st["RssAnon"], 1),
        "rssFileMb": round(st["RssFile"], 1),
        "threads": st["Threads"],
        "gcCommittedMb": round(pick(m, "dotnet_gc_last_collection_memory_committed_size_bytes") / mb, 1),
        "heapMb": {g: round(pick(m, "dotnet_gc_last_collection_heap_size_bytes", gc_heap_generation=g) / mb, 2) for g in gens},
        "collections": {g: int(pick(m, "dotnet_gc_collections_total", gc_heap_generation=g)) for g in gens[:3]},
        "allocatedBytes": int(pick(m, "dotnet_gc_heap_total_allocated_bytes_total")),
        "grpcRequests": int(pick(m, "sidecar_grpc_requests_total")),
    }
    if a.since:
        before = json.loads(a.since)
        requests = snap["grpcRequests"] - before["grpcRequests"]
        snap["requestsSince"] = requests
        snap["allocatedPerRequest"] = round((snap["allocatedBytes"] - before["allocatedBytes"]) / requests) if requests > 0 else None
        snap["collectionsSince"] = {g: snap["collections"][g] - before["collections"][g] for g in snap["collections"]}
    json.dump(snap, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
