using System.Diagnostics;
using Sidecar.Tests.Shared;

namespace Sidecar.Smoke.Tests;

/// <summary>
/// The published Native AOT sidecar. CI publishes it first and passes its path in SIDECAR_AOT_BINARY; without it the
/// fixture publishes it once itself (a couple of minutes), so the suite is the same whoever runs it.
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
        var publish = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "publish", System.IO.Path.Combine(RepoPaths.Root, "src", "Sidecar.Host", "Sidecar.Host.csproj"), "-c", "Release", "-r", "linux-x64", "-o", output, "-nologo" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var log = await publish.StandardOutput.ReadToEndAsync();
        await publish.WaitForExitAsync();
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException("dotnet publish failed:\n" + log);
        }

        Path = System.IO.Path.Combine(output, "sidecar");
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

[CollectionDefinition(Name)]
public sealed class AotCollection : ICollectionFixture<AotBinary>
{
    public const string Name = "aot";
}
