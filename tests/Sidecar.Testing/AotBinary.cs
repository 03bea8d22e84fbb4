using System.Diagnostics;

namespace Sidecar.Testing;

/// <summary>
/// The published Native AOT sidecar, as a collection fixture. CI publishes it first and passes its path in
/// SIDECAR_AOT_BINARY; without it the fixture publishes it once itself (a couple of minutes), so the suite is the
/// same whoever runs it. (xunit wants the <c>[CollectionDefinition]</c> in the test assembly: declare one there.)
/// </summary>
public sealed class AotBinary : IAsyncLifetime
{
    public string Path { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        var given = Environment.GetEnvironmentVariable("SIDECAR_AOT_BINARY");
        if (!string.IsNullOrEmpty(given))
        {
            Path = System.IO.Path.GetFullPath(given);
            if (!File.Exists(Path))
            {
                throw new FileNotFoundException("SIDECAR_AOT_BINARY does not exist", Path);
            }

            return;
        }

        var output = System.IO.Path.Combine(RepoPaths.Root, "artifacts", "smoke-publish");
        using var publish = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "publish", System.IO.Path.Combine(RepoPaths.Root, "src", "Sidecar.Host", "Sidecar.Host.csproj"), "-c", "Release", "-r", "linux-x64", "-o", output, "-nologo" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var errors = publish.StandardError.ReadToEndAsync();
        var log = await publish.StandardOutput.ReadToEndAsync();
        await publish.WaitForExitAsync();
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException("dotnet publish failed:\n" + log + await errors);
        }

        Path = System.IO.Path.Combine(output, "sidecar");
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
