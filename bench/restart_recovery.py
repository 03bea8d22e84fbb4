#!/usr/bin/env python3
"""Restart-to-ready of the AOT sidecar on a FASTER cache of N customers, with Stigg unreachable.

    python3 bench/restart_recovery.py 100000 [FEATURES=5]

Fills a fresh cache directory through the sidecar's own FASTER tier (bench/Sidecar.FasterFill), starts
artifacts/publish/sidecar on it with API_URL pointing at a closed port, and reports exec→readyz, idle RSS, disk, and one
check answered from the recovered data (is_fallback must be false). Publish first:
    dotnet publish src/Sidecar.Host -c Release -r linux-x64 -o artifacts/publish
"""
import json, os, shutil, subprocess, sys, tempfile, time, urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
customers = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
features = sys.argv[2] if len(sys.argv) > 2 else "5"
cache = tempfile.mkdtemp(prefix="sidecar-restart-")
try:
    subprocess.run(["dotnet", "build", os.path.join(root, "bench/Sidecar.FasterFill"), "-c", "Release", "-nologo", "-v", "quiet"], check=True)
    subprocess.run(["dotnet", os.path.join(root, "bench/Sidecar.FasterFill/bin/Release/net10.0/Sidecar.FasterFill.dll"),
                    cache, str(customers), features, str(1 << 30)], check=True)
    env = dict(os.environ, SERVER_API_KEY="bench-key", API_URL="http://127.0.0.1:9", WS_ENABLED="false", CACHE_DIR=cache,
               CACHE_MAX_SIZE_BYTES=str(1 << 30), GRPC_PORT="50071", METRICS_PORT="18071", ENTITLEMENTS_TIMEOUT_MS="300")
    started = time.perf_counter()
    sidecar = subprocess.Popen([os.path.join(root, "artifacts/publish/sidecar")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:18071/readyz", timeout=1) as r:
                    if r.status == 200:
                        status = json.loads(r.read())
                        break
            except OSError:
                time.sleep(0.001)
        ready_ms = (time.perf_counter() - started) * 1000
        time.sleep(1)
        rss = int(next(l for l in open(f"/proc/{sidecar.pid}/status") if l.startswith("VmRSS")).split()[1]) / 1024
        probe = f"customer-{customers // 2:06d}"
        check = subprocess.run(["node", os.path.join(root, "examples/node/check.js"), probe, "feature-2", "127.0.0.1:50071"],
                               capture_output=True, text=True).stdout.strip()
        disk = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cache) for f in fs) / (1 << 20)
        print(f"customers={customers} exec->readyz={ready_ms:.0f}ms persistence={status['persistence']} idle_rss={rss:.1f}MiB disk={disk:.1f}MiB")
        print(f"check {probe}: {check}")
    finally:
        sidecar.terminate()
        sidecar.wait()
finally:
    shutil.rmtree(cache, ignore_errors=True)
