using System.Diagnostics;

namespace Sidecar.Deploy.Tests;

/// <summary>What an external command printed and returned.</summary>
internal sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>The command-line tools these tests drive, each found on PATH or failing with the package that ships it.</summary>
internal static class Tools
{
    /// <summary>Longest a tool may run: a bound on a hang, not a wait for something to happen.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    public static string SystemdAnalyze => Require("systemd-analyze", "systemd");

    public static string Kubectl => Require("kubectl", "kubernetes-client");

    /// <summary>The full path of <paramref name="name"/>, or one line naming the Debian package to install.</summary>
    public static string Require(string name, string debianPackage)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
        return found ?? throw new InvalidOperationException(
            $"{name} not found on PATH: install Debian's {debianPackage} (apt-get install -y {debianPackage}; scripts/test.sh does it as root)");
    }

    public static async Task<CommandResult> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} ran longer than {Limit}");
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }
}
