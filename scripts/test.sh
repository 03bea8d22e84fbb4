#!/usr/bin/env bash
# The README's test command: installs what the tests need (as root, with apt) or says in one line what is missing,
# then builds, publishes the Native AOT binary once, and runs every test project against it.
#   bash scripts/test.sh [extra dotnet test arguments]      e.g. bash scripts/test.sh --filter 'FullyQualifiedName~Deploy'
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-server: integration tests. clang + zlib1g-dev: the Native AOT link. systemd (systemd-analyze) and
# kubernetes-client (kubectl kustomize): the deployment tests.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v clang >/dev/null || missing+=(clang)
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v kubectl >/dev/null || missing+=(kubernetes-client)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "test: missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' (or this script as root), then again" >&2
    exit 1
  fi
  echo "test: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
case "$(uname -m)" in
  aarch64|arm64) rid=linux-arm64 ;;
  *) rid=linux-x64 ;;
esac

echo "test: restore + build"
dotnet build Sidecar.Aot.sln -c Release -nologo -clp:ErrorsOnly

echo "test: Native AOT publish (warnings are errors)"
dotnet publish src/Sidecar.Host/Sidecar.Host.csproj -c Release -r "$rid" -o artifacts/publish -nologo -clp:ErrorsOnly
ls -l artifacts/publish/sidecar
export SIDECAR_AOT_BINARY="$PWD/artifacts/publish/sidecar"

echo "test: dotnet test"
rm -rf artifacts/test-results
# One test assembly at a time (the suites start real servers and measure nothing, so 2 shared cores are better spent
# on one at a time); a hang is reported with the test's name instead of eating the run's time.
dotnet test Sidecar.Aot.sln -c Release --no-build -nologo --logger "trx" --results-directory artifacts/test-results \
  --blame-hang --blame-hang-timeout 10m --blame-hang-dump-type none "$@" -- RunConfiguration.MaxCpuCount=1
