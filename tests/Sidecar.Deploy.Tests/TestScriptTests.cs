using System.Runtime.Versioning;
using Sidecar.Testing;

namespace Sidecar.Deploy.Tests;

/// <summary>scripts/test.sh, the README's test command, on a machine that lacks its tools and may not install them.</summary>
[SupportedOSPlatform("linux")] // the script and its tests are for Linux only
public sealed class TestScriptTests
{
    [Fact]
    public async Task WithoutItsToolsAndNotRoot_StopsBeforeBuilding_WithOneLineNamingThePackages()
    {
        using var dir = new TempDirectory();
        // A PATH holding only what the script needs before its check: redis-server, clang, systemd-analyze, kubectl
        // and apt-get are all absent from it.
        var bin = Directory.CreateDirectory(Path.Combine(dir.Path, "bin")).FullName;
        foreach (var tool in new[] { "bash", "dirname", "id" })
        {
            File.CreateSymbolicLink(Path.Combine(bin, tool), Tools.Require(tool, "coreutils"));
        }

        var scripts = Directory.CreateDirectory(Path.Combine(dir.Path, "scripts")).FullName;
        var script = Path.Combine(scripts, "test.sh");
        File.Copy(Path.Combine(RepoPaths.Root, "scripts", "test.sh"), script);
        foreach (var path in new[] { dir.Path, bin, scripts })
        {
            File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101); // an unprivileged user must be able to enter
        }

        File.SetUnixFileMode(script, (UnixFileMode)0b110_100_100);

        var command = new List<string> { "/usr/bin/env", "-i", "PATH=" + bin, "bash", script };
        var root = (await Tools.RunAsync("id", "-u")).Stdout.Trim() == "0";
        if (root)
        {
            command.InsertRange(0, [Tools.Require("setpriv", "util-linux"), "--reuid=65534", "--regid=65534", "--clear-groups"]);
        }

        var result = await Tools.RunAsync(command[0], [.. command.Skip(1)]);

        Assert.True(result.ExitCode == 1 && result.Stdout.Length == 0, result.ToString());
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("test: missing redis-server clang ", line, StringComparison.Ordinal);
        Assert.Contains(" systemd kubernetes-client: run 'sudo apt-get install -y redis-server clang ", line, StringComparison.Ordinal);
    }
}
