#!/usr/bin/env pwsh
# Thin wrapper over the same dotnet commands CI runs (.ci/run). Usage: ./build.ps1 [restore|build|test|publish|bench|all]
param(
    [ValidateSet('restore', 'build', 'test', 'publish', 'bench', 'all')]
    [string]$Target = 'all',
    [string]$Configuration = 'Release',
    [string]$Runtime = 'linux-x64'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Step([string]$Name, [scriptblock]$Command) {
    Write-Host "==> $Name"
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$Name failed with exit code $LASTEXITCODE" }
}

$publishDir = Join-Path $PSScriptRoot 'artifacts/publish'
switch ($Target) {
    'restore' { Invoke-Step 'restore' { dotnet restore Sidecar.Aot.sln } }
    'build'   { Invoke-Step 'build' { dotnet build Sidecar.Aot.sln -c $Configuration } }
    'publish' { Invoke-Step 'publish (Native AOT)' { dotnet publish src/Sidecar.Host/Sidecar.Host.csproj -c $Configuration -r $Runtime -o $publishDir } }
    'test'    {
        Invoke-Step 'publish (Native AOT)' { dotnet publish src/Sidecar.Host/Sidecar.Host.csproj -c $Configuration -r $Runtime -o $publishDir }
        $env:SIDECAR_AOT_BINARY = Join-Path $publishDir 'sidecar'
        Invoke-Step 'test' { dotnet test Sidecar.Aot.sln -c $Configuration }
    }
    'bench'   { Invoke-Step 'bench' { bash bench/run.sh } }
    'all'     {
        & $PSCommandPath -Target build -Configuration $Configuration -Runtime $Runtime
        & $PSCommandPath -Target test -Configuration $Configuration -Runtime $Runtime
    }
}
