using Sidecar.Testing;

namespace Sidecar.Host.Tests;

/// <summary>The built executable (run through dotnet): refuses bad configuration with one line, stops cleanly on SIGTERM.</summary>
public sealed class ProcessStartupTests
{
    private static string SidecarDll => Path.Combine(AppContext.BaseDirectory, "sidecar.dll");

    [Fact]
    public async Task Start_BadPort_ExitsWithOneLineNamingTheVariable()
    {
        await using var process = SidecarProcess.Start(SidecarDll, new Dictionary<string, string>
        {
            ["SERVER_API_KEY"] = "k",
            ["GRPC_PORT"] = "not-a-port",
        });

        await process.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, process.ExitCode);
        var line = Assert.Single(process.Output);
        Assert.Contains("GRPC_PORT:", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_SampleFile_ReadyThenSigtermExitsZero()
    {
        var env = new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements,
            ["LOG_LEVEL"] = "info",
        };
        await using var process = await SidecarProcess.StartReadyAsync(SidecarDll, env, TimeSpan.FromSeconds(60));

        var exit = await process.StopAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, exit);
        Assert.Contains(process.Output, l => l.Contains("\"msg\":\"Shutting down", StringComparison.Ordinal));
    }
}
