#!/usr/bin/env bash
# One command for local development: a local Stigg (the emulator, serving samples/entitlements.json) and the sidecar
# in upstream mode against it — Edge fetch on a miss, live updates over the WebSocket, usage through GraphQL.
#   bash scripts/run-dev.sh            gRPC on :50051, health/metrics on :8080, emulator (and its admin API) on :3060
# Change a plan while it runs and watch the next check follow:
#   curl -s localhost:3060/admin/customers/acme > /tmp/acme.json   # edit, then:
#   curl -s -X PUT -H 'content-type: application/json' --data @/tmp/acme.json localhost:3060/admin/customers/acme
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GRPC_PORT:=50051}" "${METRICS_PORT:=8080}" "${EMULATOR_PORT:=3060}"

dotnet build src/Sidecar.Emulator -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet build src/Sidecar.Host -c Release -nologo -v quiet -clp:ErrorsOnly

dotnet src/Sidecar.Emulator/bin/Release/net10.0/stigg-emulator.dll \
  --port "$EMULATOR_PORT" --fixture samples/entitlements.json --api-key dev-key &
emulator=$!
trap 'kill "$emulator" 2>/dev/null; wait "$emulator" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$EMULATOR_PORT") 2>/dev/null && break
  sleep 0.1
done

SERVER_API_KEY=dev-key API_URL="http://127.0.0.1:$EMULATOR_PORT" GRPC_PORT="$GRPC_PORT" METRICS_PORT="$METRICS_PORT" \
  LOG_LEVEL="${LOG_LEVEL:-info}" CACHE_DIR="${CACHE_DIR:-./sidecar-cache}" \
  dotnet src/Sidecar.Host/bin/Release/net10.0/sidecar.dll
