#!/usr/bin/env python3
"""Memory under abusive connections, on the AOT binary (file mode, sample file):

  idle RSS → 600 raw TCP connections to the gRPC port, each sending the HTTP/2 preface, SETTINGS and the HEADERS of a
  stream whose body never ends (half-open streams), plus 100 connections that send nothing → RSS while held, how many
  the sidecar kept open → all closed → RSS after the GC has had a few seconds.

    python3 bench/abusive_connections.py        (publish the AOT binary first; SIDECAR_AOT_BINARY overrides its path)

Everything is on 127.0.0.1, bounded in count and time, and stopped on exit.
"""
import os, socket, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rawgrpc import wait_http  # noqa: E402

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("SIDECAR_AOT_BINARY", os.path.join(root, "artifacts/publish/sidecar"))
HALF_OPEN, SILENT = 600, 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def half_open(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    # preface, empty SETTINGS, then HEADERS (END_HEADERS, no END_STREAM) for a POST that never sends its body:
    # :method POST, :scheme http, :path /stigg.sidecar.v1.SidecarService/GetEntitlements, content-type application/grpc
    path = b"/stigg.sidecar.v1.SidecarService/GetEntitlements"
    headers = (b"\x83\x86" + b"\x44" + bytes([len(path)]) + path +
               b"\x5f" + bytes([len(b"application/grpc")]) + b"application/grpc")
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) + frame(1, 4, 1, headers))
    return s


def alive(sockets):
    count = 0
    for s in sockets:
        try:
            s.setblocking(False)
            data = s.recv(65536)
            count += data != b""  # b"" = closed by the sidecar
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def main():
    grpc_port, metrics_port = free_port(), free_port()
    env = dict(os.environ, ENTITLEMENTS_FILE=os.path.join(root, "samples/entitlements.json"), GRPC_PORT=str(grpc_port),
               METRICS_PORT=str(metrics_port), BIND_ADDRESS="127.0.0.1", LOG_LEVEL="error")
    sidecar = subprocess.Popen([BINARY], env=env, stdout=subprocess.DEVNULL)
    sockets = []
    try:
        wait_http(f"http://127.0.0.1:{metrics_port}/readyz")
        time.sleep(2)
        idle = rss_mb(sidecar.pid)
        refused = 0
        for _ in range(HALF_OPEN):
            try:
                sockets.append(half_open(grpc_port))
            except OSError:
                refused += 1
        for _ in range(SILENT):
            try:
                sockets.append(socket.create_connection(("127.0.0.1", grpc_port), timeout=2))
            except OSError:
                refused += 1
        time.sleep(3)
        held = rss_mb(sidecar.pid)
        open_now = alive(sockets)
        for s in sockets:
            s.close()
        time.sleep(10)
        after10 = rss_mb(sidecar.pid)
        time.sleep(30)
        after40 = rss_mb(sidecar.pid)
        print(f"RSS idle {idle:.1f} MB; with {HALF_OPEN} half-open streams + {SILENT} silent connections: {held:.1f} MB "
              f"({open_now} of {len(sockets)} still open after 3 s, {refused} refused at connect); after closing: "
              f"{after10:.1f} MB at 10 s, {after40:.1f} MB at 40 s")
    finally:
        for s in sockets:
            s.close()
        sidecar.terminate()
        sidecar.wait(10)


if __name__ == "__main__":
    main()
