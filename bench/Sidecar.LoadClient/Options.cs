using System.Globalization;

namespace Sidecar.LoadClient;

internal sealed class OptionException(string message) : Exception(message);

/// <summary><c>--name value</c> pairs, and everything after <c>--</c> as a command line.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Rest { get; private set; } = [];

    public static Options Parse(ReadOnlySpan<string> args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                options.Rest = args[(i + 1)..].ToArray();
                break;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new OptionException($"unexpected argument '{arg}'");
            }

            var name = arg[2..];
            if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                options._values[name] = args[++i];
            }
            else
            {
                options._values[name] = "true";
            }
        }

        return options;
    }

    public string Required(string name) =>
        _values.TryGetValue(name, out var value) ? value : throw new OptionException($"--{name} is required");

    public string? Optional(string name) => _values.GetValueOrDefault(name);

    public bool Flag(string name) => _values.TryGetValue(name, out var value) && value != "false";

    public int Int(string name, int fallback) => _values.TryGetValue(name, out var text)
        ? int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v
            : throw new OptionException($"--{name}: expected a non-negative integer, got '{text}'")
        : fallback;

    public double Double(string name, double fallback) => _values.TryGetValue(name, out var text)
        ? double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v
            : throw new OptionException($"--{name}: expected a non-negative number, got '{text}'")
        : fallback;

    public IReadOnlyList<string> List(string name) =>
        Required(name).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
