#!/usr/bin/env python3
"""Peak RSS of the AOT sidecar per CACHE_MAX_SIZE_BYTES, under a load that touches far more customers than it holds.

    python3 bench/memory_budget.py [--binary artifacts/publish/sidecar] [--customers 60000] [--features 20]
                                   [--budgets 16,64] [--duration 30] [--concurrency 16]

Serves the customers from the emulator (bench/gen_dataset.py dataset, Stigg mode, FASTER on a fresh CACHE_DIR), then
runs the load client over all of them uniformly (Zipf s=0), so every few checks is a miss that fetches, stores in the
hot tier and FASTER, and evicts. VmRSS is sampled every 100 ms; VmHWM (the kernel's peak) is read at the end. Budgets
are in MiB. Prints one JSON line per budget. Build first:
    dotnet publish src/Sidecar.Host -c Release -r linux-x64 -o artifacts/publish
    dotnet build bench/Sidecar.LoadClient -c Release; dotnet build src/Sidecar.Emulator -c Release
The machine is shared: the load's latencies are noise; RSS is what this measures.
"""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOAD = os.path.join(ROOT, "bench/Sidecar.LoadClient/bin/Release/net10.0/sidecar-load")
EMULATOR = os.path.join(ROOT, "src/Sidecar.Emulator/bin/Release/net10.0/stigg-emulator.dll")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":"))


def wait_http(url, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return json.loads(r.read() or b"{}")
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {seconds} s")


def wait_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {seconds} s")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default=os.path.join(ROOT, "artifacts/publish/sidecar"))
    p.add_argument("--customers", type=int, default=60000)
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--budgets", default="16,64")
    p.add_argument("--duration", type=int, default=30)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--env", action="append", default=[], help="extra VAR=VALUE for the sidecar")
    a = p.parse_args()

    data_dir = os.path.join(ROOT, "bench/out/data")
    os.makedirs(data_dir, exist_ok=True)
    data = os.path.join(data_dir, f"customers-{a.customers}x{a.features}.json")
    if not os.path.exists(data):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/gen_dataset.py"), "--customers", str(a.customers),
                        "--features", str(a.features), "--out", data + ".tmp"], check=True, stdout=subprocess.DEVNULL)
        os.replace(data + ".tmp", data)
    ids = json.loads(subprocess.run([sys.executable, os.path.join(ROOT, "bench/gen_dataset.py"), "--customers", "1",
                                     "--features", str(a.features), "--out", "/dev/null", "--print-ids"],
                                    check=True, capture_output=True, text=True).stdout)["ids"]

    emu_port = free_port()
    emulator = subprocess.Popen(["dotnet", EMULATOR, "--port", str(emu_port), "--host", "127.0.0.1", "--fixture", data,
                                 "--api-key", "emulator-key"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(emu_port, 120)
        for budget_mib in [int(b) for b in a.budgets.split(",")]:
            print(json.dumps(run_one(a, budget_mib, emu_port, ids)), flush=True)
    finally:
        emulator.terminate()
        emulator.wait()


def run_one(a, budget_mib, emu_port, ids):
    cache = tempfile.mkdtemp(prefix="sidecar-mem-")
    grpc, metrics = free_port(), free_port()
    env = dict(PATH=os.environ["PATH"], HOME=os.environ.get("HOME", "/tmp"), SERVER_API_KEY="emulator-key",
               API_URL=f"http://127.0.0.1:{emu_port}", CACHE_DIR=cache, CACHE_MAX_SIZE_BYTES=str(budget_mib << 20),
               BIND_ADDRESS="127.0.0.1", GRPC_PORT=str(grpc), METRICS_PORT=str(metrics), LOG_LEVEL="warn")
    env.update(kv.split("=", 1) for kv in a.env)
    log_dir = os.path.join(ROOT, "bench/out/logs")
    os.makedirs(log_dir, exist_ok=True)
    log = open(os.path.join(log_dir, f"memory-budget-{budget_mib}.log"), "w")
    sidecar = subprocess.Popen([a.binary], env=env, cwd=cache, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{metrics}/readyz", 60)
        time.sleep(1)
        idle = status_kb(sidecar.pid, "VmRSS")
        peak = [idle]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], status_kb(sidecar.pid, "VmRSS"))
                except (OSError, StopIteration):
                    return
                time.sleep(0.1)

        sampler = threading.Thread(target=sample)
        sampler.start()
        load = subprocess.run([LOAD, "load", "--url", f"http://127.0.0.1:{grpc}", "--kind", "boolean",
                               "--customers", str(a.customers), "--features", ",".join(ids["boolean"]), "--zipf", "0",
                               "--concurrency", str(a.concurrency), "--connections", "4", "--duration", str(a.duration),
                               "--warmup", "0"], capture_output=True, text=True)
        stop.set()
        sampler.join()
        after = status_kb(sidecar.pid, "VmRSS")
        hwm = status_kb(sidecar.pid, "VmHWM")
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/readyz", timeout=5) as r:
            ready = json.loads(r.read())
        result = json.loads(load.stdout) if load.stdout.strip() else {"error": load.stderr.strip()}
        return {"budgetMiB": budget_mib, "idleMb": round(idle / 1024, 1), "peakRssMb": round(peak[0] / 1024, 1),
                "hwmMb": round(hwm / 1024, 1), "afterMb": round(after / 1024, 1), "hwmOverBudgetMb": round(hwm / 1024 - budget_mib, 1),
                "checks": result.get("requests", result.get("count")), "rps": result.get("rps"), "p99Us": result.get("p99Us"),
                "loadErrors": result.get("errors", result.get("error")),
                "cachedCustomers": ready.get("cachedCustomers"), "cacheBytes": ready.get("cacheBytes"),
                "hotBudgetBytes": ready.get("hotBudgetBytes"), "persistentMemoryBytes": ready.get("persistentMemoryBytes")}
    finally:
        sidecar.terminate()
        try:
            sidecar.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"budget {budget_mib} MiB: no exit 30 s after SIGTERM (log: {log.name}); killed", file=sys.stderr)
            sidecar.kill()
            sidecar.wait()
        log.close()
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
