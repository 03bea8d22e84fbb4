using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Sidecar.Testing;

namespace Sidecar.Deploy.Tests;

/// <summary>deploy/systemd/sidecar.service, as systemd-analyze reads it and as the binary behaves under it.</summary>
[Collection(DeployCollection.Name)]
public sealed partial class SystemdUnitTests(AotBinary binary)
{
    private static readonly string UnitPath = Path.Combine(RepoPaths.Root, "deploy", "systemd", "sidecar.service");

    private static readonly UnitFile Unit = new(File.ReadAllText(UnitPath));

    [Fact]
    public async Task Verify_WithExecStartOnTheBinary_ReportsNothing()
    {
        using var dir = new TempDirectory();
        var copy = WriteUnitCopy(dir.Path);

        var result = await Tools.RunAsync(Tools.SystemdAnalyze, "verify", copy);

        // verify exits 0 on an unknown key or a bad value and only prints a warning: any output is a finding.
        Assert.True(result.ExitCode == 0 && result.Stdout.Length == 0 && result.Stderr.Length == 0, result.ToString());
    }

    [Fact]
    public async Task Verify_SeesAMisspelledKey()
    {
        // The test above is only worth something if verify reports what it should.
        using var dir = new TempDirectory();
        var copy = WriteUnitCopy(dir.Path, text => text.Replace("ProtectSystem=strict", "ProtectSystm=strict", StringComparison.Ordinal));

        var result = await Tools.RunAsync(Tools.SystemdAnalyze, "verify", copy);

        Assert.Contains("ProtectSystm", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Security_OverallExposureIsLow()
    {
        using var dir = new TempDirectory();
        var copy = WriteUnitCopy(dir.Path);

        var result = await Tools.RunAsync(Tools.SystemdAnalyze, "security", "--offline=yes", "--no-pager", copy);

        var match = ExposureLine().Match(result.Stdout + result.Stderr);
        Assert.True(match.Success, result.ToString());
        var exposure = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(exposure <= 2.5, $"exposure {exposure} (0 = locked down, 10 = unprotected):\n{result.Stdout}");
    }

    [Fact]
    public void Unit_NotifiesReadiness_AndKeepsTheCacheInItsStateDirectory()
    {
        Assert.Equal("notify", Unit["Service.Type"]);
        Assert.Equal("sidecar", Unit["Service.StateDirectory"]);
        Assert.Contains("CACHE_DIR=%S/sidecar", Unit.All("Service.Environment"));
        Assert.Contains("-/etc/sidecar/sidecar.env", Unit.All("Service.EnvironmentFile"));
        Assert.True(Unit["Service.DynamicUser"] == "yes" || Unit["Service.User"] is { Length: > 0 }, "a dynamic or dedicated user");
        Assert.Equal("on-failure", Unit["Service.Restart"]);
    }

    [Fact]
    public void Unit_IsHardened_WithNoCapabilityForItsUnprivilegedPort()
    {
        Assert.Equal("strict", Unit["Service.ProtectSystem"]);
        Assert.Equal("yes", Unit["Service.ProtectHome"]);
        Assert.Equal("yes", Unit["Service.NoNewPrivileges"]);
        Assert.Equal("yes", Unit["Service.PrivateTmp"]);
        Assert.Equal("@system-service", Unit["Service.SystemCallFilter"]);
        Assert.NotNull(Unit["Service.RestrictAddressFamilies"]);
        Assert.NotNull(Unit["Service.MemoryMax"]);

        // An empty bounding set is only right while the gRPC port needs no CAP_NET_BIND_SERVICE.
        Assert.Equal(string.Empty, Unit["Service.CapabilityBoundingSet"]);
        var port = Unit.All("Service.Environment").Single(e => e.StartsWith("GRPC_PORT=", StringComparison.Ordinal));
        Assert.True(int.Parse(port["GRPC_PORT=".Length..], CultureInfo.InvariantCulture) > 1023, port);

        // The host detects systemd by reading /proc/<parent pid>/comm, which ProtectProc=invisible hides.
        Assert.False(Unit.Has("Service.ProtectProc"), "ProtectProc= would stop READY=1 under DynamicUser");
    }

    [Fact]
    public void Unit_WaitsLongerThanTheHostsShutdown()
    {
        var app = File.ReadAllText(Path.Combine(RepoPaths.Root, "src", "Sidecar.Host", "SidecarApp.cs"));
        var match = ShutdownTimeout().Match(app);
        Assert.True(match.Success, "HostOptions.ShutdownTimeout not found in SidecarApp.cs");
        var hostSeconds = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);

        var stop = Unit["Service.TimeoutStopSec"];
        Assert.NotNull(stop);
        Assert.True(int.Parse(stop, CultureInfo.InvariantCulture) > hostSeconds, $"TimeoutStopSec={stop}, host drains for {hostSeconds} s");
    }

    [Fact]
    public async Task Binary_StartedBySystemd_NotifiesReadyWhenServing_AndStoppingOnSigterm()
    {
        using var dir = new TempDirectory();

        // Microsoft.Extensions.Hosting.Systemd talks to NOTIFY_SOCKET only when its parent's comm is "systemd":
        // a shell started through a link of that name is such a parent.
        var systemd = Path.Combine(dir.Path, "systemd");
        File.CreateSymbolicLink(systemd, "/bin/sh");

        await LoopbackPort.StartAsync(2, async ports =>
        {
            // A socket per attempt: a receive left pending by a failed attempt must not take the next READY=1.
            var socketPath = Path.Combine(dir.Path, "notify-" + ports[0].ToString(CultureInfo.InvariantCulture));
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(socketPath));
            var start = new System.Diagnostics.ProcessStartInfo(systemd)
            {
                ArgumentList = { "-c", "\"$0\" & echo $!; wait $!", binary.Path },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                Environment =
                {
                    ["NOTIFY_SOCKET"] = socketPath,
                    ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements,
                    ["GRPC_PORT"] = ports[0].ToString(CultureInfo.InvariantCulture),
                    ["METRICS_PORT"] = ports[1].ToString(CultureInfo.InvariantCulture),
                    ["BIND_ADDRESS"] = "127.0.0.1",
                    ["CACHE_DIR"] = Path.Combine(dir.Path, "cache"),
                    ["LOG_LEVEL"] = "warn",
                },
            };
            using var shell = System.Diagnostics.Process.Start(start)!;
            var stderr = shell.StandardError.ReadToEndAsync();
            var pid = int.Parse((await shell.StandardOutput.ReadLineAsync())!, CultureInfo.InvariantCulture);
            try
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                var buffer = new byte[256];
                var received = notify.ReceiveAsync(buffer, SocketFlags.None, deadline.Token).AsTask();
                if (await Task.WhenAny(received, shell.WaitForExitAsync(deadline.Token)) != received)
                {
                    var output = await stderr;
                    if (LoopbackPort.MentionsAddressInUse(output))
                    {
                        throw new PortInUseException(output);
                    }

                    Assert.Fail($"the sidecar exited (code {shell.ExitCode}) without READY=1:\n{output}");
                }

                Assert.Equal("READY=1", Encoding.ASCII.GetString(buffer, 0, await received));

                using var http = new HttpClient();
                var readyz = new Uri($"http://127.0.0.1:{ports[1]}/readyz");
                await Eventually.ValueAsync(async () => (await http.GetAsync(readyz)).StatusCode, s => s == HttpStatusCode.OK, what: "/readyz 200 after READY=1");

                var kill = await Tools.RunAsync("kill", "-TERM", pid.ToString(CultureInfo.InvariantCulture));
                Assert.Equal(0, kill.ExitCode);
                var stopping = await notify.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                Assert.Equal("STOPPING=1", Encoding.ASCII.GetString(buffer, 0, stopping));
                await shell.WaitForExitAsync(deadline.Token);
                Assert.True(shell.ExitCode == 0, $"exit code {shell.ExitCode}:\n{await stderr}");
            }
            finally
            {
                if (!shell.HasExited)
                {
                    await Tools.RunAsync("kill", "-KILL", pid.ToString(CultureInfo.InvariantCulture));
                    shell.Kill(entireProcessTree: true);
                }
            }

            return true;
        }, "sidecar under a fake systemd");
    }

    /// <summary>A copy of the unit whose ExecStart is the binary under test (verify checks that it is executable).</summary>
    private string WriteUnitCopy(string directory, Func<string, string>? edit = null)
    {
        var text = File.ReadAllText(UnitPath).Replace("ExecStart=/usr/local/bin/sidecar", "ExecStart=" + binary.Path, StringComparison.Ordinal);
        Assert.Contains("ExecStart=" + binary.Path, text, StringComparison.Ordinal);
        var copy = Path.Combine(directory, "sidecar.service");
        File.WriteAllText(copy, edit is null ? text : edit(text));
        return copy;
    }

    [GeneratedRegex(@"Overall exposure level for \S+: (\d+(?:\.\d+)?)")]
    private static partial Regex ExposureLine();

    [GeneratedRegex(@"ShutdownTimeout\s*=\s*TimeSpan\.FromSeconds\((\d+)\)")]
    private static partial Regex ShutdownTimeout();
}
