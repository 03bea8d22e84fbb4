using System.Net;
using System.Net.Sockets;
using Sidecar.Testing;

namespace Sidecar.Smoke.Tests;

/// <summary>
/// A start that cannot work ends with one line naming the cause and the variable, and exit code 1 — never an abort
/// with a stack trace (issue: "Start-up never aborts"). Run as an operator would: the real binary, a real user.
/// </summary>
[Collection(AotCollection.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // a Linux binary, run as a Linux user
public sealed class StartupFailureSmokeTests(AotBinary binary)
{
    [Fact]
    public async Task NotRoot_DefaultPort80_OneLineNamingGrpcPortAndTheCapability()
    {
        var env = new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements,
            ["METRICS_PORT"] = LoopbackPort.Candidate().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        var (exit, output) = await RunAsNonRootAsync(env);

        Assert.Equal(1, exit);
        var line = OneLine(output);
        Assert.Contains("GRPC_PORT: port 80 is privileged", line, StringComparison.Ordinal);
        Assert.Contains("CAP_NET_BIND_SERVICE", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CacheDirUnwritable_OneLineNamingCacheDir()
    {
        using var parent = new TempDirectory();
        File.SetUnixFileMode(parent.Path, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var env = StiggEnv(Path.Combine(parent.Path, "cache"));

        var (exit, output) = await RunAsNonRootAsync(env);
        File.SetUnixFileMode(parent.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Assert.Equal(1, exit);
        Assert.Contains("CACHE_DIR: cannot write to", OneLine(output), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CacheDirIsAFile_OneLineNamingCacheDir()
    {
        using var parent = new TempDirectory();
        var file = Path.Combine(parent.Path, "not-a-directory");
        await File.WriteAllTextAsync(file, "x");

        await using var sidecar = SidecarProcess.Start(binary.Path, StiggEnv(file));
        await sidecar.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, sidecar.ExitCode);
        Assert.Contains("CACHE_DIR: '" + file + "' is a file", OneLine(sidecar.Output), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcPortInUse_OneLineNamingGrpcPort()
    {
        using var taken = new TcpListener(IPAddress.Any, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var env = new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements,
            ["GRPC_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["METRICS_PORT"] = LoopbackPort.Candidate().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        await using var sidecar = SidecarProcess.Start(binary.Path, env);
        await sidecar.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, sidecar.ExitCode);
        Assert.Contains($"GRPC_PORT: port {port} is already in use", OneLine(sidecar.Output), StringComparison.Ordinal);
    }

    private static Dictionary<string, string> StiggEnv(string cacheDir) => new()
    {
        ["SERVER_API_KEY"] = "key",
        ["API_URL"] = "http://127.0.0.1:9",
        ["WS_ENABLED"] = "false",
        ["CACHE_DIR"] = cacheDir,
        ["GRPC_PORT"] = LoopbackPort.Candidate().ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["METRICS_PORT"] = LoopbackPort.Candidate().ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The one start-up line: exactly one, and no stack frame anywhere in the output.</summary>
    private static string OneLine(IReadOnlyCollection<string> output)
    {
        Assert.DoesNotContain(output, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.DoesNotContain(output, l => l.Contains("Unhandled exception", StringComparison.Ordinal));
        return Assert.Single(output, l => l.StartsWith("sidecar: cannot start: ", StringComparison.Ordinal));
    }

    /// <summary>
    /// Runs the binary as a user without privileges: as root (CI), through <c>setpriv</c> as <c>nobody</c>; as anyone
    /// else, directly (they have none).
    /// </summary>
    private async Task<(int Exit, IReadOnlyCollection<string> Output)> RunAsNonRootAsync(Dictionary<string, string> env)
    {
        await using var sidecar = Environment.IsPrivilegedProcess
            ? SidecarProcess.Start("setpriv", env, null, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", binary.Path)
            : SidecarProcess.Start(binary.Path, env);
        await sidecar.WaitForExitAsync(TimeSpan.FromSeconds(30));
        return (sidecar.ExitCode, sidecar.Output);
    }
}
