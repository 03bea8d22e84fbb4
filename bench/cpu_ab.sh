#!/usr/bin/env bash
# A/B of sidecar binaries on the request path: the server's CPU per request and req/s for a cached
# GetBooleanEntitlement and for the floor (grpc.health.v1.Health/Check on the same server), at one stream count,
# with the binaries taking turns round after round so that what else runs on the shared cores hits them alike.
#
#   bash bench/cpu_ab.sh [--rounds N] [--streams S] BINARY...    e.g. bash bench/cpu_ab.sh old/sidecar new/sidecar
#
# Each round starts every binary fresh on the 10k x 20 file, runs h2load (4 connections, 2 s warm-up, 8 s measured)
# on the check and then on the floor, and reads the server's user + system CPU from /proc over the measured window.
# One line per binary, target and round; CPU per request moves far less with this machine's noise than req/s does.
set -euo pipefail
ROUNDS=3 STREAMS=64
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --streams) STREAMS=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: bash bench/cpu_ab.sh [--rounds N] [--streams S] BINARY..." >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOAD=$ROOT/bench/Sidecar.LoadClient/bin/Release/net10.0/sidecar-load
[ -x "$LOAD" ] || dotnet build "$ROOT/bench/Sidecar.LoadClient" -c Release -nologo -clp:ErrorsOnly >/dev/null
DATA=${FILE_SCALE_DATA:-$ROOT/bench/out/data}/customers-10000x20.json
[ -s "$DATA" ] || { mkdir -p "$(dirname "$DATA")"; python3 "$ROOT/bench/gen_dataset.py" --customers 10000 --features 20 --out "$DATA"; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$LOAD" encode --kind boolean --customer cust-000001 --feature feature-boolean-00 --out "$WORK/check.bin" >/dev/null
"$LOAD" encode --kind health --out "$WORK/floor.bin" >/dev/null
CLIENTS=$((STREAMS < 4 ? STREAMS : 4))
HZ=$(getconf CLK_TCK)

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

for round in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    read -r grpc metrics < <(python3 -c 'import socket; a=socket.socket(); a.bind(("127.0.0.1",0)); b=socket.socket(); b.bind(("127.0.0.1",0)); print(a.getsockname()[1], b.getsockname()[1])')
    json=$(ENTITLEMENTS_FILE="$DATA" GRPC_PORT="$grpc" METRICS_PORT="$metrics" CACHE_PERSISTENCE=none BIND_ADDRESS=127.0.0.1 LOG_LEVEL=warn \
      "$LOAD" exec-ready --ready-url "http://127.0.0.1:$metrics/readyz" --log "$WORK/sidecar.log" --timeout 120 -- "$(realpath "$bin")")
    pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$json")
    for target in check floor; do
      path=/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement
      [ "$target" = floor ] && path=/grpc.health.v1.Health/Check
      h2load -D 8 --warm-up-time=2 -c "$CLIENTS" -m $((STREAMS / CLIENTS)) -t 1 -d "$WORK/$target.bin" \
        -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$grpc$path" >"$WORK/h2load.txt" 2>&1 &
      h2=$!
      sleep 2
      cpu0=$(ticks "$pid")
      wait "$h2"
      cpu1=$(ticks "$pid")
      python3 - "$WORK/h2load.txt" "$round" "$bin" "$target" $((cpu1 - cpu0)) "$HZ" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
done = int(re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", text).group(2))
rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", text).group(1))
round_, binary, target, ticks, hz = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
print(f"round {round_} {binary} {target}: {rps:,.0f} req/s, {ticks * 1e6 / hz / done:.2f} us CPU per request")
PY
    done
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  done
done
