#!/usr/bin/env bash
# File mode at scale: exec -> /readyz 200, CPU used until ready, and RSS after a few checks, for a sidecar binary on
# a 10k customers x 20 entitlements file and a 1M x 3 file (generated once with gen_dataset.py).
#
#   bash bench/file_scale.sh BINARY [RUNS]      e.g. bash bench/file_scale.sh /tmp/filemode-publish/sidecar 3
#
# One line per run; wall-clock times are noisy on shared cores (take the median), RSS and CPU seconds much less so.
set -euo pipefail
BIN=$(realpath "$1") RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FILE_SCALE_DATA:-$ROOT/bench/out/data}
LOAD=$ROOT/bench/Sidecar.LoadClient/bin/Release/net10.0/sidecar-load
[ -x "$LOAD" ] || dotnet build "$ROOT/bench/Sidecar.LoadClient" -c Release -nologo -clp:ErrorsOnly >/dev/null
mkdir -p "$DATA"
dataset() { # dataset CUSTOMERS FEATURES -> path
  local path="$DATA/customers-$1x$2.json"
  [ -s "$path" ] || python3 "$ROOT/bench/gen_dataset.py" --customers "$1" --features "$2" --out "$path"
  echo "$path"
}

run() { # run FILE FEATURE LABEL
  local file=$1 feature=$2 label=$3 dir json pid ms cpu ok rss hwm
  read -r grpc metrics < <(python3 -c 'import socket; a=socket.socket(); a.bind(("127.0.0.1",0)); b=socket.socket(); b.bind(("127.0.0.1",0)); print(a.getsockname()[1], b.getsockname()[1])')
  dir=$(mktemp -d)
  json=$(cd "$dir" && env ENTITLEMENTS_FILE="$file" GRPC_PORT="$grpc" METRICS_PORT="$metrics" CACHE_PERSISTENCE=none BIND_ADDRESS=127.0.0.1 LOG_LEVEL=warn \
    "$LOAD" exec-ready --ready-url "http://127.0.0.1:$metrics/readyz" --log "$dir/sidecar.log" --timeout 600 -- "$BIN") \
    || { tail "$dir/sidecar.log" >&2; exit 1; }
  pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$json")
  ms=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["readyMs"])' "$json")
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat")
  ok=0
  for c in cust-000000 cust-000001 cust-000002 cust-000003 cust-000004; do
    "$LOAD" check --url "http://127.0.0.1:$grpc" --kind boolean --customer "$c" --feature "$feature" >"$dir/check.json" \
      && grep -q '"fallback":false' "$dir/check.json" && ok=$((ok + 1))
  done
  sleep 1
  rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -rf "$dir"
  echo "$label readyMs=$ms cpuToReadyS=$cpu checksOk=$ok/5 VmRSS=${rss}MB VmHWM=${hwm}MB loadavg=$(cut -d' ' -f1 /proc/loadavg)"
}

SMALL=$(dataset 10000 20)
LARGE=$(dataset 1000000 3)
for i in $(seq 1 "$RUNS"); do run "$SMALL" feature-boolean-00 "10k x 20 #$i"; done
for i in $(seq 1 "$RUNS"); do run "$LARGE" feature-sso "1M x 3 #$i"; done
