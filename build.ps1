#!/usr/bin/env pwsh
# Thin wrapper for PowerShell users over the scripts CI runs, so the two cannot drift. Usage: ./build.ps1 [test|all]
#   test  bash scripts/test.sh  (the README's test command: tools check, build, Native AOT publish, every test project)
#   all   bash .ci/run          (CI: the above, the results summary, the load-harness smoke run)
param(
    [ValidateSet('test', 'all')]
    [string]$Target = 'all'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$script = if ($Target -eq 'test') { 'scripts/test.sh' } else { '.ci/run' }
& bash $script
exit $LASTEXITCODE
