using System.Text;
using Sidecar.Host.Configuration;

namespace Sidecar.Host;

/// <summary>
/// The arguments the binary accepts. Everything but running the server (no arguments) answers and exits without
/// reading the settings or opening a port; an argument it does not know is one line on stderr and exit 2.
/// </summary>
internal static class CommandLine
{
    public const int UsageError = 2;

    /// <summary>Handles <paramref name="args"/>; null when the sidecar should run, else the exit code.</summary>
    public static int? Dispatch(string[] args, TextWriter stdout, TextWriter stderr)
    {
        switch (args)
        {
            case []:
                return null;
            case ["--help" or "-h" or "help"]:
                stdout.Write(Help());
                return 0;
            case ["--version" or "version"]:
                stdout.WriteLine(SidecarVersion.Informational);
                return 0;
            case ["health"]:
                return HealthProbe.Run(ready: false, stdout, stderr);
            case ["health", "--ready"]:
                return HealthProbe.Run(ready: true, stdout, stderr);
            default:
                var unknown = args is ["health", _, ..] ? string.Join(' ', args) : args[0];
                stderr.WriteLine($"sidecar: unknown argument '{unknown}' (sidecar --help lists what it accepts)");
                return UsageError;
        }
    }

    /// <summary>The commands, and every environment variable with its default and meaning (from <see cref="EnvVariables"/>).</summary>
    public static string Help()
    {
        var text = new StringBuilder()
            .AppendLine($"sidecar {SidecarVersion.Informational}: a Stigg Sidecar (gRPC entitlements cache) built with Native AOT")
            .AppendLine()
            .AppendLine("Usage:")
            .AppendLine("  sidecar                  run the sidecar, configured by the environment variables below")
            .AppendLine("  sidecar health [--ready] probe this sidecar's liveness (readiness) endpoint on METRICS_PORT; exit 0 when it answers 200")
            .AppendLine("  sidecar --version        print the version (with the commit it was built from)")
            .AppendLine("  sidecar --help, -h       print this help")
            .AppendLine()
            .AppendLine("Environment variables (an empty value counts as unset):");
        var width = EnvVariables.All.Max(v => v.Name.Length) + 2;
        foreach (var variable in EnvVariables.All)
        {
            text.Append("  ").Append(variable.Name.PadRight(width)).Append(variable.Description)
                .Append(" [default: ").Append(variable.DefaultText).AppendLine("]");
        }

        return text.ToString();
    }
}
