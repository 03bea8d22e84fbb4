using Sidecar.Host;
using Sidecar.Host.Configuration;
using Sidecar.Host.Hosting;

// sidecar            run the sidecar (configured by environment variables: sidecar --help lists them)
// sidecar health     probe this sidecar's liveness endpoint (exit 0 when healthy); --ready probes readiness
// sidecar --version  the version with the commit; anything else the binary does not know exits 2
if (CommandLine.Dispatch(args, Console.Out, Console.Error) is { } exitCode)
{
    return exitCode;
}

SidecarSettings settings;
try
{
    settings = SidecarSettings.Load(EnvReader.FromProcess());
}
catch (SettingsException ex)
{
    await Console.Error.WriteLineAsync("sidecar: refusing to start: " + ex.Message).ConfigureAwait(false);
    return 2;
}

using var heap = HeapGovernor.Start(settings);
using var stdout = Console.OpenStandardOutput();
SidecarApp app;
try
{
    app = await SidecarApp.StartAsync(settings, TimeProvider.System, stdout, CancellationToken.None).ConfigureAwait(false);
}
catch (SettingsException ex)
{
    await Console.Error.WriteLineAsync("sidecar: refusing to start: " + ex.Message).ConfigureAwait(false);
    return 2;
}
#pragma warning disable CA1031 // every start-up failure ends as one line and exit 1, never an abort with a stack trace
catch (Exception ex)
#pragma warning restore CA1031
{
    await Console.Error.WriteLineAsync("sidecar: cannot start: " + StartupFailure.Describe(ex, settings.Server)).ConfigureAwait(false);
    return 1;
}

await using (app.ConfigureAwait(false))
{
    await app.WaitForShutdownAsync().ConfigureAwait(false);
}

return 0;
