#!/usr/bin/env python3
"""Miss latency against the emulator at 0 and 100 ms Edge latency, and the time from an admin change to the sidecar
answering differently (pushed over the WebSocket).

    python3 bench/upstream_latency.py          (needs /usr/bin/python3 with python3-grpcio; publish the AOT binary first)

Requests are hand-encoded protobuf sent through grpcio's generic unary call, so no generated stubs are needed.
"""
import json, os, statistics, subprocess, sys, time, urllib.request

import grpc

from rawgrpc import field, pct, wait_http

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMU, GRPC, METRICS = 3161, 50091, 18093


subprocess.run(["dotnet", "build", os.path.join(root, "src/Sidecar.Emulator"), "-c", "Release", "-nologo", "-v", "quiet"], check=True)
for latency in (0, 100):
    emulator = subprocess.Popen(["dotnet", os.path.join(root, "src/Sidecar.Emulator/bin/Release/net10.0/stigg-emulator.dll"),
                                 "--port", str(EMU), "--fixture", os.path.join(root, "samples/entitlements.json"),
                                 "--edge-latency-ms", str(latency)], stdout=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{EMU}/admin/counters")
    env = dict(os.environ, SERVER_API_KEY="emulator-key", API_URL=f"http://127.0.0.1:{EMU}", GRPC_PORT=str(GRPC),
               METRICS_PORT=str(METRICS), CACHE_PERSISTENCE="none")
    sidecar = subprocess.Popen([os.path.join(root, "artifacts/publish/sidecar")], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{METRICS}/readyz")
        for _ in range(300):
            if json.load(urllib.request.urlopen(f"http://127.0.0.1:{METRICS}/readyz"))["events"] == "connected":
                break
            time.sleep(0.01)
        channel = grpc.insecure_channel(f"127.0.0.1:{GRPC}")
        check = channel.unary_unary("/stigg.sidecar.v1.SidecarService/GetNumericEntitlement")
        check(field(1, "warmup") + field(2, "feature-seats"))
        misses, hits = [], []
        for i in range(50):
            request = field(1, f"miss-{i}") + field(2, "feature-seats")
            started = time.perf_counter(); check(request); misses.append((time.perf_counter() - started) * 1e3)
            started = time.perf_counter(); check(request); hits.append((time.perf_counter() - started) * 1e3)
        print(f"edge latency {latency:3d} ms: miss p50 {statistics.median(misses):.2f} ms p99 {pct(misses, .99):.2f} ms;"
              f" hit p50 {statistics.median(hits) * 1000:.0f} us (python client)")
        if latency == 0:
            acme = field(1, "acme") + field(2, "feature-seats")
            before = check(acme)
            state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{EMU}/admin/customers/acme"))
            for e in state["entitlementsV2"]:
                if (e.get("feature") or {}).get("refId") == "feature-seats":
                    e["usageLimit"] = 77
            put = urllib.request.Request(f"http://127.0.0.1:{EMU}/admin/customers/acme", data=json.dumps(state).encode(),
                                         method="PUT", headers={"content-type": "application/json"})
            started = time.perf_counter()
            urllib.request.urlopen(put).read()
            while check(acme) == before:
                pass
            print(f"admin change -> sidecar answers differently: {(time.perf_counter() - started) * 1e3:.1f} ms (PUT round trip included)")
    finally:
        sidecar.terminate(); sidecar.wait()
        emulator.terminate(); emulator.wait()
