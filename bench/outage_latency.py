#!/usr/bin/env python3
"""Checks and usage while Stigg is down, on the AOT binary against the emulator:

  * miss latency for customers not yet cached, per kind of outage (connections refused, black hole, 503), with a
    200 ms gRPC deadline and with none (the miss budget): the first misses (breaker still closed) and the later ones
    (breaker open), p50/p99;
  * usage while the GraphQL API refuses connections: how many ReportUsage calls per second are accepted (durably,
    into the outbox), then how long the outbox takes to deliver them once Stigg answers again.

    python3 bench/outage_latency.py [--misses N] [--reports N]    (python3-grpcio; publish the AOT binary first)

Requests are hand-encoded protobuf sent through grpcio's generic unary call, so no generated stubs are needed.
Every process binds 127.0.0.1 and is stopped on exit. Prints one JSON object per measurement and a table.
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

import grpc

from rawgrpc import double, field, pct, varint, wait_http

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("SIDECAR_AOT_BINARY", os.path.join(root, "artifacts/publish/sidecar"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_fallback(answer):
    """Field 2 (is_fallback) of a typed check's answer, read from the top-level fields."""
    i = 0
    while i < len(answer):
        tag, i = varint(answer, i)
        number, kind = tag >> 3, tag & 7
        if kind == 0:
            value, i = varint(answer, i)
            if number == 2:
                return value == 1
        elif kind == 2:
            length, i = varint(answer, i); i += length
        elif kind == 1:
            i += 8
        elif kind == 5:
            i += 4
        else:
            return False
    return False


def http(method, url, body=None):
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return json.loads(text) if text else None


class Stack:
    """The emulator and the AOT sidecar, both on loopback; stopped on exit."""

    def __init__(self, extra_env):
        self.emu, self.grpc, self.metrics = free_port(), free_port(), free_port()
        self.cache = tempfile.mkdtemp(prefix="outage-bench-")
        self.emulator = subprocess.Popen(
            ["dotnet", os.path.join(root, "src/Sidecar.Emulator/bin/Release/net10.0/stigg-emulator.dll"),
             "--port", str(self.emu), "--fixture", os.path.join(root, "samples/entitlements.json")], stdout=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.emu}/admin/counters")
        env = dict(os.environ, SERVER_API_KEY="emulator-key", API_URL=f"http://127.0.0.1:{self.emu}", GRPC_PORT=str(self.grpc),
                   METRICS_PORT=str(self.metrics), BIND_ADDRESS="127.0.0.1", CACHE_DIR=self.cache, WS_ENABLED="false", LOG_LEVEL="error",
                   ENTITLEMENTS_FALLBACK='{"feature-seats":{"hasAccess":true,"value":1}}', **extra_env)
        self.sidecar = subprocess.Popen([BINARY], env=env, stdout=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.metrics}/readyz")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc}")
        self.check = self.channel.unary_unary("/stigg.sidecar.v1.SidecarService/GetNumericEntitlement")
        self.report = self.channel.unary_unary("/stigg.sidecar.v1.SidecarService/ReportUsage")
        self.check(field(1, "acme") + field(2, "feature-seats"))  # connection and first call out of the way

    def faults(self, faults):
        http("PUT", f"http://127.0.0.1:{self.emu}/admin/faults", faults)

    def counters(self):
        return http("GET", f"http://127.0.0.1:{self.emu}/admin/counters")

    def ready(self):
        return http("GET", f"http://127.0.0.1:{self.metrics}/readyz")

    def close(self):
        self.channel.close()
        for process in (self.sidecar, self.emulator):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.cache, ignore_errors=True)


def misses(stack, count, deadline_s, tag):
    first, later, fallback = [], [], 0
    for i in range(count):
        request = field(1, f"{tag}-{i}") + field(2, "feature-seats")
        started = time.perf_counter()
        answer = stack.check(request, timeout=deadline_s)
        elapsed = (time.perf_counter() - started) * 1e3
        fallback += is_fallback(answer)
        (first if i < 5 else later).append(elapsed)
    return first, later, fallback


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", type=int, default=200)
    parser.add_argument("--reports", type=int, default=2000)
    args = parser.parse_args()
    subprocess.run(["dotnet", "build", os.path.join(root, "src/Sidecar.Emulator"), "-c", "Release", "-nologo", "-v", "quiet"], check=True)
    rows = []
    outages = {
        "refused": {"edgeConnection": "refuse"},
        "black hole": {"edgeConnection": "blackHole"},
        "503": {"edgeStatus": 503},
    }
    for name, faults in outages.items():
        for deadline in (0.2, None):
            stack = Stack({})
            try:
                stack.faults(faults)
                first, later, fallback = misses(stack, args.misses, deadline, "miss")
                row = {"outage": name, "deadline_ms": None if deadline is None else int(deadline * 1e3), "checks": args.misses,
                       "fallback_answers": fallback, "first5_p50_ms": statistics.median(first), "first5_max_ms": max(first),
                       "later_p50_ms": statistics.median(later), "later_p99_ms": pct(later, .99),
                       "circuit": stack.ready().get("stiggCircuit")}
                rows.append(row)
                print(json.dumps(row), flush=True)
            finally:
                stack.close()

    # Usage while GraphQL refuses connections: accepted into the outbox, then delivered.
    stack = Stack({})
    try:
        stack.faults({"graphQlConnection": "refuse"})
        request = field(1, "acme") + field(3, "feature-api-calls") + double(4, 1.0)
        started = time.perf_counter()
        for _ in range(args.reports):
            stack.report(request, timeout=10)
        accept_s = time.perf_counter() - started
        queued = stack.ready().get("usageOutbox", {})
        stack.faults({})
        drain_started = time.perf_counter()
        while stack.counters().get("usageMeasurementsApplied", 0) < args.reports and time.perf_counter() - drain_started < 120:
            time.sleep(0.05)
        drain_s = time.perf_counter() - drain_started
        applied = stack.counters().get("usageMeasurementsApplied", 0)
        row = {"usage_reports": args.reports, "accepted_per_s": args.reports / accept_s, "queued_at_recovery": queued,
               "drained_in_s": drain_s, "applied": applied, "replayed": stack.counters().get("usageMeasurementsReplayed", 0)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    finally:
        stack.close()

    print()
    print("| Outage | Deadline | Checks | Fallback answers | First 5 misses p50 / max | Later misses p50 / p99 | Breaker after |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "outage" in r:
            deadline = "none (miss budget)" if r["deadline_ms"] is None else f'{r["deadline_ms"]} ms'
            print(f'| {r["outage"]} | {deadline} | {r["checks"]} | {r["fallback_answers"]} | {r["first5_p50_ms"]:.1f} / {r["first5_max_ms"]:.1f} ms'
                  f' | {r["later_p50_ms"]:.2f} / {r["later_p99_ms"]:.2f} ms | {r["circuit"]} |')
    usage = [r for r in rows if "usage_reports" in r]
    if usage:
        u = usage[0]
        print()
        print(f'Usage while GraphQL refuses connections: {u["usage_reports"]} reports accepted at {u["accepted_per_s"]:.0f}/s'
              f' (python client, one at a time); delivered {u["applied"]} (replayed {u["replayed"]}) in {u["drained_in_s"]:.1f} s after recovery.')


if __name__ == "__main__":
    sys.exit(main())
