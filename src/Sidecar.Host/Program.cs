using Sidecar.Host;
using Sidecar.Host.Configuration;

// sidecar            run the sidecar (configured by environment variables, see README)
// sidecar health     probe this sidecar's liveness endpoint (exit 0 when healthy); --ready probes readiness
if (args is ["health", ..])
{
    return HealthProbe.Run(args);
}

if (args is ["--version" or "version", ..])
{
    Console.WriteLine(typeof(SidecarApp).Assembly.GetName().Version?.ToString() ?? "unknown");
    return 0;
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
catch (IOException ex)
{
    // Typically a port already in use or an unwritable CACHE_DIR: one line, no stack trace.
    await Console.Error.WriteLineAsync("sidecar: cannot start: " + ex.Message).ConfigureAwait(false);
    return 1;
}

await using (app.ConfigureAwait(false))
{
    await app.WaitForShutdownAsync().ConfigureAwait(false);
}

return 0;
