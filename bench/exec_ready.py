#!/usr/bin/env python3
"""exec → /readyz 200 and idle RSS of the published AOT sidecar, five runs.

    python3 bench/exec_ready.py [file|offline]      (publish first: dotnet publish src/Sidecar.Host -c Release -r linux-x64 -o artifacts/publish)
"""
import os, subprocess, sys, time, urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
mode = sys.argv[1] if len(sys.argv) > 1 else "file"
env = dict(os.environ, GRPC_PORT="50081", METRICS_PORT="18091")
env.update({"OFFLINE": "true"} if mode == "offline" else {"ENTITLEMENTS_FILE": os.path.join(root, "samples/entitlements.json")})
for run in range(5):
    started = time.perf_counter()
    p = subprocess.Popen([os.path.join(root, "artifacts/publish/sidecar")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:18091/readyz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.001)
    ready_ms = (time.perf_counter() - started) * 1000
    time.sleep(1)
    rss = int(next(l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")).split()[1]) / 1024
    p.terminate()
    p.wait()
    print(f"{mode} run {run}: exec->readyz {ready_ms:.1f} ms, idle RSS {rss:.1f} MiB")
