#!/usr/bin/env bash
# The load harness: one command that builds, generates the datasets, starts every server it measures, drives them
# over loopback and prints the results table (targets are reported, never asserted).
#
#   bash bench/run.sh            full run (~10-15 min; 10k-customer dataset, 1k/100k/1M size sweep); writes
#                                bench/out/results.md and the generated block of bench/RESULTS.md
#   bash bench/run.sh --smoke    a few-second run of every step on tiny datasets (what CI runs); writes
#                                bench/out/results.md only
#   bash bench/run.sh --against HOST:PORT --customer ID --feature ID [--smoke]
#                                the throughput and latency steps against a stigg.sidecar.v1 server someone else runs
#                                (Stigg's image, another deployment); starts no server; writes bench/out/results.md only
# Options: --skip-1m (size sweep without 1M), --skip-bdn (no BenchmarkDotNet step), --no-build (reuse the builds in
# bench/out and bin/). SIDECAR_AOT_BINARY=<path> uses that binary instead of publishing one. BENCH_SIDECAR_ENV="A=1 B=2"
# adds environment variables to every sidecar start (to compare runtime knobs such as DOTNET_gcServer=0).
# Charts (SVG, matplotlib) go to bench/out/charts; a full run also copies them to bench/charts for RESULTS.md.
#
# Exit status: 0 when every step ran; non-zero when the harness itself broke (a build failed, a server did not
# start, a client reported errors). Every process it starts is stopped on exit (trap EXIT), all bound to 127.0.0.1.
# It installs nothing except `npm ci` for the Node peer.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/out
LOGS=$OUT/logs
DATA=$OUT/data
RESULTS=$OUT/results.jsonl

SMOKE=0 SKIP_1M=0 SKIP_BDN=0 BUILD=1 AGAINST= CUSTOMER= FEATURE=
ARGS_TEXT="$*"
usage_error() { echo "run.sh: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --skip-1m) SKIP_1M=1 ;;
    --skip-bdn) SKIP_BDN=1 ;;
    --no-build) BUILD=0 ;;
    --against|--customer|--feature)
      [ $# -ge 2 ] && [ -n "$2" ] && [[ "$2" != --* ]] || usage_error "$1 needs a value"
      case "$1" in --against) AGAINST=$2 ;; --customer) CUSTOMER=$2 ;; --feature) FEATURE=$2 ;; esac
      shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
  shift
done
if [ -n "$AGAINST" ]; then
  [ -n "$CUSTOMER" ] && [ -n "$FEATURE" ] || usage_error "--against needs --customer ID and --feature ID (a customer and a feature the target holds)"
  [[ "$AGAINST" =~ ^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$ ]] || usage_error "--against expects HOST:PORT (e.g. 127.0.0.1:50051), got '$AGAINST'"
elif [ -n "$CUSTOMER$FEATURE" ]; then
  usage_error "--customer and --feature go with --against HOST:PORT"
fi

if ((SMOKE)); then
  CUSTOMERS=200 FEATURES=20 DURATION=1 WARMUP=1 STREAMS=(1 16) THROUGHPUT_STREAMS=16 CONNECTIONS=4 ROUNDS=1
  SIZES=(1000) STORM_CHECKS=100 STORM_DISTINCT=10 STARTUP_RUNS=1 BDN_JOB=dry
else
  CUSTOMERS=10000 FEATURES=20 DURATION=10 WARMUP=2 STREAMS=(1 16 64 128) THROUGHPUT_STREAMS=64 CONNECTIONS=4 ROUNDS=3
  SIZES=(1000 100000 1000000) STORM_CHECKS=1000 STORM_DISTINCT=100 STARTUP_RUNS=5 BDN_JOB=short
  ((SKIP_1M)) && SIZES=(1000 100000)
fi
SIZE_FEATURES=3 ZIPF=1.0 EDGE_LATENCY_MS=100 EMULATOR_KEY=emulator-key

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- processes: every one we start is recorded and stopped on exit -------------------------------------------------
PIDS=()
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
stop_pid() {
  local pid=$1 i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# jget JSON KEY: one field of a one-line JSON object.
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
record() { printf '{"name":"%s","data":%s}\n' "$1" "$2" >>"$RESULTS"; }
http_get() { python3 -c 'import sys, urllib.request
try: print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
except Exception: pass' "$1"; }
rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# wait_for_line FILE PATTERN SECONDS
wait_for_line() {
  local i
  for i in $(seq 1 $(($3 * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- tools ---------------------------------------------------------------------------------------------------------
TOOLS=(dotnet python3 h2load redis-server redis-cli redis-benchmark)
[ -n "$AGAINST" ] && TOOLS=(dotnet python3 h2load) # only the load generators: no server is started
for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (CI installs redis-server and nghttp2-client)"
done
NODE_OK=1
if [ -n "$AGAINST" ]; then
  NODE_OK=0 # the Node peer serves the harness's dataset, which the target does not hold
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  NODE_OK=0
  log "node/npm not installed: the Node peer is skipped"
fi

LOADAVG_START=$(cut -d' ' -f1 /proc/loadavg)
mkdir -p "$OUT" "$LOGS" "$DATA" "$OUT/tmp" "$OUT/run"
: >"$RESULTS"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# --- build ---------------------------------------------------------------------------------------------------------
SIDECAR=${SIDECAR_AOT_BINARY:-$OUT/publish/sidecar}
LOAD=$BENCH/Sidecar.LoadClient/bin/Release/net10.0/sidecar-load
EMULATOR_DLL=$ROOT/src/Sidecar.Emulator/bin/Release/net10.0/stigg-emulator.dll
if ((BUILD)); then
  if [ -z "${SIDECAR_AOT_BINARY:-}" ] && [ -z "$AGAINST" ]; then
    log "publishing the Native AOT sidecar -> $OUT/publish"
    timeout 1800 dotnet publish "$ROOT/src/Sidecar.Host" -c Release -r linux-x64 -o "$OUT/publish" -nologo -clp:ErrorsOnly >"$LOGS/publish.log" 2>&1 \
      || { tail -30 "$LOGS/publish.log" >&2; die "dotnet publish failed (log: $LOGS/publish.log)"; }
  fi
  log "building the load client"
  timeout 900 dotnet build "$BENCH/Sidecar.LoadClient" -c Release -nologo -clp:ErrorsOnly >"$LOGS/build-loadclient.log" 2>&1 \
    || { tail -30 "$LOGS/build-loadclient.log" >&2; die "load client build failed"; }
  if [ -z "$AGAINST" ]; then
    log "building the emulator"
    timeout 900 dotnet build "$ROOT/src/Sidecar.Emulator" -c Release -nologo -clp:ErrorsOnly >"$LOGS/build-emulator.log" 2>&1 \
      || { tail -30 "$LOGS/build-emulator.log" >&2; die "emulator build failed"; }
  fi
fi
[ -x "$LOAD" ] || die "no load client at $LOAD (run without --no-build)"
if [ -z "$AGAINST" ]; then
  [ -x "$SIDECAR" ] || die "no sidecar binary at $SIDECAR"
  [ -f "$EMULATOR_DLL" ] || die "no emulator at $EMULATOR_DLL (run without --no-build)"
fi

PEER=$BENCH/peers/node-sidecar
if ((NODE_OK)) && [ ! -d "$PEER/node_modules/@grpc/grpc-js" ]; then
  log "npm ci (Node peer)"
  if ! (cd "$PEER" && timeout 300 npm ci --no-audit --no-fund >"$LOGS/npm-ci.log" 2>&1); then
    NODE_OK=0
    log "npm ci failed (registry unreachable?): the Node peer is skipped (log: $LOGS/npm-ci.log)"
  fi
fi

# --- the sidecar ---------------------------------------------------------------------------------------------------
# start_sidecar NAME TIMEOUT_S [ENV=VALUE ...]: sets SC_PID SC_GRPC SC_METRICS SC_READY_MS.
start_sidecar() {
  local name=$1 timeout=$2 json
  shift 2
  SC_GRPC=$(free_port)
  SC_METRICS=$(free_port)
  : >"$LOGS/sidecar-$name.log"
  # The working directory is an empty one, as a container's WORKDIR is, so the default CACHE_DIR lands there.
  # shellcheck disable=SC2086 # BENCH_SIDECAR_ENV is a list of VAR=VALUE words
  json=$(cd "$OUT/run" && env ${BENCH_SIDECAR_ENV:-} "$@" BIND_ADDRESS=127.0.0.1 GRPC_PORT="$SC_GRPC" METRICS_PORT="$SC_METRICS" LOG_LEVEL=warn \
    "$LOAD" exec-ready --ready-url "http://127.0.0.1:$SC_METRICS/readyz" --log "$LOGS/sidecar-$name.log" --timeout "$timeout" -- "$SIDECAR") \
    || { tail -20 "$LOGS/sidecar-$name.log" >&2; die "sidecar '$name' did not become ready"; }
  SC_PID=$(jget "$json" pid)
  SC_READY_MS=$(jget "$json" readyMs)
  PIDS+=("$SC_PID")
}

# The name a series is logged under: --against records the target as "sidecar" (see below) but names it here.
shown() { if [ -n "$AGAINST" ] && [[ "$1" == sidecar* ]]; then echo "target $TARGET_METHOD"; else echo "$1"; fi; }

# cpu_ticks PID: user + system CPU the process has used, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# h2load_run NAME URL FRAME STREAMS [SERVER_PID] -> after round ROUNDS, records h2load.NAME.STREAMS: the median round.
# With SERVER_PID, also the server's CPU per request over the measured window (after the warm-up): on this machine's
# shared cores throughput swings with what else runs, the CPU a request costs the server much less.
h2load_run() {
  local name=$1 url=$2 frame=$3 streams=$4 pid=${5:-} clients out json rounds h2 cpu0=0 cpu1=0
  clients=$((streams < CONNECTIONS ? streams : CONNECTIONS))
  out="$LOGS/h2load-$name-$streams-r$ROUND.txt"
  rounds="$OUT/tmp/h2load-$name-$streams.jsonl"
  ((ROUND > 1)) || : >"$rounds"
  timeout $((DURATION + WARMUP + 60)) h2load -D "$DURATION" --warm-up-time="$WARMUP" -c "$clients" -m $((streams / clients)) -t 1 \
    -d "$frame" -H 'content-type: application/grpc' -H 'te: trailers' "$url" >"$out" 2>&1 &
  h2=$!
  if [ -n "$pid" ]; then sleep "$WARMUP"; cpu0=$(cpu_ticks "$pid"); fi
  wait "$h2" || die "h2load $name failed (log: $out)"
  [ -z "$pid" ] || cpu1=$(cpu_ticks "$pid")
  json=$(python3 "$BENCH/report.py" h2load "$out")
  [ "$(jget "$json" succeeded)" -gt 0 ] && [ "$(jget "$json" errored)" -eq 0 ] && [ "$(jget "$json" failed)" -eq 0 ] \
    || die "h2load $name at $streams streams had failures (log: $out)"
  if [ -n "$pid" ]; then
    json=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["cpuUsPerReq"]=round(int(sys.argv[2])*1e6/int(sys.argv[3])/d["succeeded"],2); print(json.dumps(d))' \
      "$json" $((cpu1 - cpu0)) "$(getconf CLK_TCK)")
  fi
  echo "$json" >>"$rounds"
  log "  h2load $(shown "$name") x$streams, round $ROUND/$ROUNDS: $(jget "$json" rps) req/s${pid:+, $(jget "$json" cpuUsPerReq) µs CPU per request}"
  ((ROUND == ROUNDS)) && record "h2load.$name.$streams" "$(python3 "$BENCH/report.py" median "$rounds")"
  return 0
}

load_run() { # load_run NAME URL KIND STREAMS [extra load-client options] -> records load.NAME.STREAMS
  local name=$1 url=$2 kind=$3 streams=$4 json
  shift 4
  json=$(timeout $((DURATION + WARMUP + 90)) "$LOAD" load --url "$url" --kind "$kind" --concurrency "$streams" \
    --connections $((streams < CONNECTIONS ? streams : CONNECTIONS)) --duration "$DURATION" --warmup "$WARMUP" "$@") \
    || die "load client $name at $streams streams failed"
  record "load.$name.$streams" "$json"
  log "  load $(shown "$name") x$streams: $(jget "$json" rps) req/s, p50 $(jget "$json" p50Us) us, p99 $(jget "$json" p99Us) us"
}

# --- the report and the charts: both modes end here ------------------------------------------------------------------
finish() {
  local update=() chart_args=() chart_py= py charts_failed=0
  python3 - "$OUT/meta.json" "bash bench/run.sh${ARGS_TEXT:+ $ARGS_TEXT}" "$AGAINST" "$CUSTOMER" "$FEATURE" "${TARGET_METHOD:-}" "${FLOOR:-1}" <<PY
import json, os, platform, subprocess, sys, datetime
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
try:
    commit = subprocess.run(["git", "-C", "$ROOT", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    commit = "unknown"
command, against, customer, feature, method, floor = sys.argv[2:8]
meta = {
    "command": command, "smoke": bool($SMOKE), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "commit": commit or "unknown", "cpu": cpu, "cores": os.cpu_count(), "memGb": round(mem / 1048576, 1),
    "kernel": platform.platform(), "loadavg": "$LOADAVG_START",
    "customers": $CUSTOMERS, "features": $FEATURES, "zipf": $ZIPF, "duration": $DURATION, "warmup": $WARMUP,
    "connections": $CONNECTIONS, "streams": [int(s) for s in "${STREAMS[*]}".split()], "throughputStreams": $THROUGHPUT_STREAMS,
    "sizes": [int(s) for s in "${SIZES[*]}".split()], "sizeFeatures": $SIZE_FEATURES, "edgeLatencyMs": $EDGE_LATENCY_MS,
    "bdnJob": "$BDN_JOB", "sidecarEnv": "${BENCH_SIDECAR_ENV:-}",
}
if against:
    meta.update(against=against, customer=customer, feature=feature, method=method, floor=floor == "1")
json.dump(meta, open(sys.argv[1], "w"))
PY

  # Charts need matplotlib, which CI may lack: say so in one line and still write the table.
  rm -rf "$OUT/charts"
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import matplotlib' 2>/dev/null; then chart_py=$py; break; fi
  done
  if [ -z "$chart_py" ]; then
    log "charts skipped: matplotlib is not installed (Debian: apt-get install -y python3-matplotlib)"
  elif "$chart_py" "$BENCH/charts.py" --results "$RESULTS" --meta "$OUT/meta.json" --out "$OUT/charts" >"$LOGS/charts.log" 2>&1; then
    chart_args=(--charts "$OUT/charts")
    log "charts: $(cd "$OUT/charts" && echo *.svg) in $OUT/charts"
  else
    charts_failed=1
    log "charts failed (log: $LOGS/charts.log); writing the table without them"
  fi

  # Only a full run of our own sidecar replaces the committed results and charts.
  if ((!SMOKE)) && [ -z "$AGAINST" ]; then
    update=(--update "$BENCH/RESULTS.md")
    if ((${#chart_args[@]})); then
      mkdir -p "$BENCH/charts"
      rm -f "$BENCH/charts"/*.svg
      cp "$OUT/charts"/*.svg "$BENCH/charts/"
    fi
  fi
  python3 "$BENCH/report.py" render --results "$RESULTS" --meta "$OUT/meta.json" --out "$OUT/results.md" "${chart_args[@]}" "${update[@]}"
  ((!charts_failed)) || die "the chart step failed (log: $LOGS/charts.log)"
  log "done: $OUT/results.md${update:+, bench/RESULTS.md and bench/charts}"
}

# --- --against: the same throughput and latency steps on a server the harness did not start --------------------------
if [ -n "$AGAINST" ]; then
  TARGET="http://$AGAINST"
  SVC=/stigg.sidecar.v1.SidecarService
  log "measuring $AGAINST (not started here), customer '$CUSTOMER', feature '$FEATURE'"
  # The floor only where the target serves grpc.health.v1 (ours does; another implementation may not).
  FLOOR=1
  if ! "$LOAD" check --url "$TARGET" --kind health >"$LOGS/check-health.json" 2>"$LOGS/check-health.err"; then
    [ -s "$LOGS/check-health.json" ] || die "cannot reach $AGAINST over plaintext HTTP/2: $(tail -1 "$LOGS/check-health.err")"
    FLOOR=0
    log "the target does not serve grpc.health.v1.Health/Check (grpc-status $(jget "$(cat "$LOGS/check-health.json")" grpcStatus)): no floor measured"
  fi
  # The typed getter for the feature's type: the first that answers with the entitlement (not a fallback, not a
  # customer or feature the target does not know, not a type mismatch).
  TARGET_KIND= LAST=
  for kind in boolean numeric metered enum; do
    "$LOAD" check --url "$TARGET" --kind "$kind" --customer "$CUSTOMER" --feature "$FEATURE" --allow-fallback \
      >"$LOGS/check-$kind.json" 2>"$LOGS/check-$kind.err" || true
    [ -s "$LOGS/check-$kind.json" ] || die "the target did not answer $SVC (${kind}): $(tail -1 "$LOGS/check-$kind.err")"
    LAST=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
if d["grpcStatus"] != 0:
    print("grpc-status %d" % d["grpcStatus"]); sys.exit()
r = json.loads(d["response"])
reason = r.get("accessDeniedReason", "")
unusable = ("NOT_FOUND", "FEATURE_TYPE_MISMATCH", "NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION")
print("fallback" if d["fallback"] else reason if any(u in reason for u in unusable) else "")' "$LOGS/check-$kind.json")
    if [ -z "$LAST" ]; then TARGET_KIND=$kind; break; fi
  done
  [ -n "$TARGET_KIND" ] || die "no typed getter of $AGAINST answers customer '$CUSTOMER' feature '$FEATURE' with an entitlement (last answer: $LAST)"
  TARGET_METHOD=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"].rsplit("/", 1)[1])' "$LOGS/check-$TARGET_KIND.json")
  log "measuring $TARGET_METHOD: $(jget "$(cat "$LOGS/check-$TARGET_KIND.json")" response)"

  "$LOAD" encode --kind "$TARGET_KIND" --customer "$CUSTOMER" --feature "$FEATURE" --out "$OUT/tmp/target.bin" >/dev/null
  "$LOAD" encode --kind health --out "$OUT/tmp/health.bin" >/dev/null
  # Recorded under the sidecar's names so the table and the charts read both modes alike; meta.json names the method.
  log "throughput (h2load, $DURATION s per point)"
  for s in "${STREAMS[@]}"; do
    for ROUND in $(seq 1 "$ROUNDS"); do
      h2load_run sidecar "$TARGET$SVC/$TARGET_METHOD" "$OUT/tmp/target.bin" "$s"
      if ((FLOOR)); then h2load_run health "$TARGET/grpc.health.v1.Health/Check" "$OUT/tmp/health.bin" "$s"; fi
    done
  done
  log "latency (load client, $DURATION s per point, one customer)"
  for s in "${STREAMS[@]}"; do
    load_run sidecar.boolean "$TARGET" "$TARGET_KIND" "$s" --customer "$CUSTOMER" --features "$FEATURE"
    if ((FLOOR)); then load_run health "$TARGET" health "$s"; fi
  done
  finish
  exit 0
fi

# --- datasets ------------------------------------------------------------------------------------------------------
dataset() { # dataset CUSTOMERS FEATURES -> path (generated once, reused)
  local path="$DATA/customers-$1x$2.json"
  if [ ! -s "$path" ]; then
    log "generating $1 customers × $2 entitlements"
    python3 "$BENCH/gen_dataset.py" --customers "$1" --features "$2" --out "$path.tmp" >/dev/null
    mv "$path.tmp" "$path"
  fi
  echo "$path"
}
MAIN_DATA=$(dataset "$CUSTOMERS" "$FEATURES")
IDS=$(python3 "$BENCH/gen_dataset.py" --customers 1 --features "$FEATURES" --out /dev/null --print-ids)
ids_of() { python3 -c 'import json,sys; print(",".join(json.loads(sys.argv[1])["ids"][sys.argv[2]]))' "$IDS" "$1"; }
BOOL_IDS=$(ids_of boolean)
METERED_IDS=$(ids_of metered)
CREDIT_IDS=$(ids_of credit)
BOOL_ONE=${BOOL_IDS%%,*}

# 1. binary size and start time / idle memory on the sample file -------------------------------------------------------
BYTES=$(stat -c %s "$SIDECAR")
record binary "{\"bytes\":$BYTES,\"mb\":$(python3 -c "print(round($BYTES/1048576,2))")}"
log "binary: $BYTES bytes"

STARTS=()
for run in $(seq 1 "$STARTUP_RUNS"); do
  start_sidecar "sample-$run" 60 ENTITLEMENTS_FILE="$ROOT/samples/entitlements.json"
  STARTS+=("$SC_READY_MS")
  if ((run == STARTUP_RUNS)); then
    sleep 2 # let start-up work settle before reading idle memory
    "$LOAD" check --url "http://127.0.0.1:$SC_GRPC" --kind boolean --customer acme --feature feature-sso >/dev/null \
      || die "the sidecar does not answer a check from the sample file"
    record rss.sample "{\"idleMb\":$(rss_mb "$SC_PID")}"
  fi
  stop_pid "$SC_PID"
done
record startup.sample "$(python3 -c 'import json,statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(json.dumps({"runs":len(v),"minMs":min(v),"medianMs":statistics.median(v),"maxMs":max(v)}))' "${STARTS[@]}")"
log "exec -> ready (sample file): ${STARTS[*]} ms"

# 2. the main dataset: throughput (h2load) and latency (load client) against sidecar, floor, Node peer ----------------
start_sidecar main 300 ENTITLEMENTS_FILE="$MAIN_DATA"
MAIN_PID=$SC_PID MAIN_GRPC=$SC_GRPC MAIN_METRICS="http://127.0.0.1:$SC_METRICS/metrics"
record startup.main "{\"readyMs\":$SC_READY_MS}"
sleep 2
IDLE_MAIN=$(rss_mb "$MAIN_PID")
record memory.idle "$(python3 "$BENCH/memory_snapshot.py" "$MAIN_PID" "$MAIN_METRICS")"
log "sidecar on $CUSTOMERS customers: ready in $SC_READY_MS ms, idle RSS $IDLE_MAIN MB"
"$LOAD" check --url "http://127.0.0.1:$MAIN_GRPC" --kind boolean --customer cust-000001 --feature "$BOOL_ONE" >"$LOGS/check-sidecar.json" \
  || die "sidecar check failed: $(cat "$LOGS/check-sidecar.json")"

"$LOAD" encode --kind boolean --customer cust-000001 --feature "$BOOL_ONE" --out "$OUT/tmp/boolean.bin" >/dev/null
"$LOAD" encode --kind health --out "$OUT/tmp/health.bin" >/dev/null
SVC=/stigg.sidecar.v1.SidecarService

NODE_PID=
if ((NODE_OK)); then
  NODE_PORT=$(free_port)
  node "$PEER/server.js" --port "$NODE_PORT" --data "$MAIN_DATA" --proto-root "$ROOT/protos" >"$LOGS/node-peer.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_for_line "$LOGS/node-peer.log" listening 120 || die "the Node peer did not start (log: $LOGS/node-peer.log)"
  "$LOAD" check --url "http://127.0.0.1:$NODE_PORT" --kind boolean --customer cust-000001 --feature "$BOOL_ONE" >"$LOGS/check-node.json" \
    || die "Node peer check failed: $(cat "$LOGS/check-node.json")"
fi

# Peak RSS of the sidecar while it is under load, sampled every 250 ms.
PEAK_FILE=$OUT/tmp/peak-rss
echo 0 >"$PEAK_FILE"
(
  peak=0
  while alive "$MAIN_PID"; do
    now=$(awk '/^VmRSS:/ { print $2 }' "/proc/$MAIN_PID/status" 2>/dev/null || echo 0)
    if [ "${now:-0}" -gt "$peak" ]; then peak=$now; echo "$peak" >"$PEAK_FILE"; fi
    sleep 0.25
  done
) &
PIDS+=("$!")
SAMPLER_PID=$!

log "throughput (h2load, $DURATION s per point)"
for s in "${STREAMS[@]}"; do
  # Rounds interleave the targets, so that a slow spell of this shared machine does not fall on one of them alone.
  for ROUND in $(seq 1 "$ROUNDS"); do
    # Where the memory is at the headline stream count, and what each check allocates (runtime metrics, bench/README.md).
    first=$((s == THROUGHPUT_STREAMS && ROUND == 1))
    ((first)) && before=$(python3 "$BENCH/memory_snapshot.py" "$MAIN_PID" "$MAIN_METRICS")
    h2load_run sidecar "http://127.0.0.1:$MAIN_GRPC$SVC/GetBooleanEntitlement" "$OUT/tmp/boolean.bin" "$s" "$MAIN_PID"
    ((first)) && record memory.load "$(python3 "$BENCH/memory_snapshot.py" "$MAIN_PID" "$MAIN_METRICS" --since "$before")"
    h2load_run health "http://127.0.0.1:$MAIN_GRPC/grpc.health.v1.Health/Check" "$OUT/tmp/health.bin" "$s" "$MAIN_PID"
    if ((NODE_OK)); then h2load_run node "http://127.0.0.1:$NODE_PORT$SVC/GetBooleanEntitlement" "$OUT/tmp/boolean.bin" "$s" "$NODE_PID"; fi
  done
done

log "latency (load client, $DURATION s per point, Zipf s=$ZIPF over $CUSTOMERS customers)"
for s in "${STREAMS[@]}"; do
  load_run sidecar.boolean "http://127.0.0.1:$MAIN_GRPC" boolean "$s" --customers "$CUSTOMERS" --features "$BOOL_IDS" --zipf "$ZIPF"
  load_run health "http://127.0.0.1:$MAIN_GRPC" health "$s"
  if ((NODE_OK)); then
    load_run node.boolean "http://127.0.0.1:$NODE_PORT" boolean "$s" --customers "$CUSTOMERS" --features "$BOOL_IDS" --zipf "$ZIPF"
  fi
done
for s in 1 "$THROUGHPUT_STREAMS"; do
  load_run sidecar.metered "http://127.0.0.1:$MAIN_GRPC" metered "$s" --customers "$CUSTOMERS" --features "$METERED_IDS" --zipf "$ZIPF"
  load_run sidecar.v2-credit "http://127.0.0.1:$MAIN_GRPC" v2-credit "$s" --customers "$CUSTOMERS" --features "$CREDIT_IDS" --zipf "$ZIPF"
done
stop_pid "$SAMPLER_PID"
record rss.main "{\"idleMb\":$IDLE_MAIN,\"loadMb\":$(awk '{ printf "%.1f", $1 / 1024 }' "$PEAK_FILE")}"
stop_pid "$MAIN_PID"
[ -n "$NODE_PID" ] && stop_pid "$NODE_PID"

# 3. Redis GET on the same machine ------------------------------------------------------------------------------------
log "Redis GET (redis-benchmark)"
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --protected-mode yes >"$LOGS/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for i in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping | grep -q PONG || die "redis-server did not start (log: $LOGS/redis.log)"
# A value the size of a typical check answer, under the key redis-benchmark reads.
redis-cli -p "$REDIS_PORT" SET 'key:__rand_int__' "$(head -c 64 /dev/zero | tr '\0' x)" >/dev/null
for s in "${STREAMS[@]}"; do
  n=$(( s == 1 ? 20000 * DURATION : 60000 * DURATION ))
  timeout $((DURATION * 10 + 60)) redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t get -n "$n" -c "$s" --csv >"$LOGS/redis-$s.csv" 2>/dev/null \
    || die "redis-benchmark failed at $s clients"
  json=$(python3 "$BENCH/report.py" redis "$LOGS/redis-$s.csv")
  record "redis.$s" "$json"
  log "  redis GET x$s: $(jget "$json" rps) req/s"
done
stop_pid "$REDIS_PID"

# 4. hit latency against the number of cached customers --------------------------------------------------------------
log "hit latency by cached customers: ${SIZES[*]}"
for n in "${SIZES[@]}"; do
  file=$(dataset "$n" "$SIZE_FEATURES")
  start_sidecar "size-$n" 900 ENTITLEMENTS_FILE="$file"
  json=$(timeout $((DURATION + WARMUP + 120)) "$LOAD" load --url "http://127.0.0.1:$SC_GRPC" --kind boolean --concurrency 1 \
    --duration "$DURATION" --warmup "$WARMUP" --customers "$n" --features feature-sso --zipf 0) || die "load client failed on $n customers"
  json=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(readyMs=float(sys.argv[2]), rssMb=float(sys.argv[3])); print(json.dumps(d))' \
    "$json" "$SC_READY_MS" "$(rss_mb "$SC_PID")")
  record "size.$n" "$json"
  log "  $n customers: ready in $SC_READY_MS ms, p50 $(jget "$json" p50Us) us, p99 $(jget "$json" p99Us) us"
  stop_pid "$SC_PID"
done

# 5. miss storm against the emulator ---------------------------------------------------------------------------------
log "miss storm: $STORM_CHECKS checks over $STORM_DISTINCT uncached customers, Edge latency $EDGE_LATENCY_MS ms"
EMU_PORT=$(free_port)
dotnet "$EMULATOR_DLL" --port "$EMU_PORT" --host 127.0.0.1 --fixture "$MAIN_DATA" --api-key "$EMULATOR_KEY" --edge-latency-ms "$EDGE_LATENCY_MS" \
  >"$LOGS/emulator.log" 2>&1 &
EMU_PID=$!
PIDS+=("$EMU_PID")
wait_for_line "$LOGS/emulator.log" "listening on" 120 || die "the emulator did not start (log: $LOGS/emulator.log)"
rm -rf "$OUT/tmp/storm-cache"
start_sidecar storm 60 SERVER_API_KEY="$EMULATOR_KEY" API_URL="http://127.0.0.1:$EMU_PORT" WS_ENABLED=true CACHE_DIR="$OUT/tmp/storm-cache"
# Let the event stream connect first, so its connect-time revalidation is not part of the storm.
for i in $(seq 1 100); do
  http_get "http://127.0.0.1:$SC_METRICS/readyz" | grep -q '"events":"connected"' && break
  sleep 0.1
done
EVENTS=$(http_get "http://127.0.0.1:$SC_METRICS/readyz" | python3 -c 'import json,sys
try: print(json.load(sys.stdin).get("events", "unknown"))
except ValueError: print("unknown")')
json=$(timeout 180 "$LOAD" storm --url "http://127.0.0.1:$SC_GRPC" --admin "http://127.0.0.1:$EMU_PORT" --customers-from 0 \
  --distinct "$STORM_DISTINCT" --checks "$STORM_CHECKS" --feature "$BOOL_ONE" --timeout 120) || die "the miss storm client failed"
json=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["events"]=sys.argv[2]; print(json.dumps(d))' "$json" "$EVENTS")
record storm "$json"
log "  storm (event stream $EVENTS): $(jget "$json" upstreamCalls) upstream calls for $STORM_DISTINCT customers, p99 $(jget "$json" p99Us) us"
stop_pid "$SC_PID"
stop_pid "$EMU_PID"

# 6. in-process micro-benchmarks (BenchmarkDotNet) --------------------------------------------------------------------
BDN_ARTIFACTS=$OUT/bdn-harness
if ((SKIP_BDN)); then
  record bdn "{}"
else
  log "BenchmarkDotNet hit path (--job $BDN_JOB)"
  rm -rf "$BDN_ARTIFACTS"
  if ((SMOKE)); then
    # In process: validates the benchmarks and the parsing in seconds, without building a second project.
    BDN_ARGS=(--filter '*HitPathBenchmarks*' --job dry --inProcess)
  else
    BDN_ARGS=(--filter '*HitPathBenchmarks*' '*EvaluatorBenchmarks*' '*HotTierBenchmarks*' '*GrpcPipelineBenchmarks*' --job short)
  fi
  timeout 2400 dotnet run -c Release --project "$BENCH/Sidecar.Benchmarks" -- "${BDN_ARGS[@]}" --artifacts "$BDN_ARTIFACTS" \
    >"$LOGS/bdn.log" 2>&1 || { tail -30 "$LOGS/bdn.log" >&2; die "BenchmarkDotNet run failed (log: $LOGS/bdn.log)"; }
  json=$(python3 "$BENCH/report.py" bdn "$BDN_ARTIFACTS/results")
  [ "$json" != "{}" ] || die "BenchmarkDotNet produced no results (log: $LOGS/bdn.log)"
  record bdn "$json"
fi

# 7. the report -------------------------------------------------------------------------------------------------------
finish
