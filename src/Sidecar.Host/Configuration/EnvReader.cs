using System.Globalization;

namespace Sidecar.Host.Configuration;

/// <summary>A bad setting: the process refuses to start and prints this one line.</summary>
internal sealed class SettingsException(string message) : Exception(message);

/// <summary>
/// Reads typed values of the variables declared in <see cref="EnvVariables"/>: the value set, else the variable's
/// default, parsed by the same code. Every failure names the variable.
/// </summary>
internal sealed class EnvReader(Func<string, string?> lookup)
{
    public static EnvReader FromProcess() => new(Environment.GetEnvironmentVariable);

    /// <summary>True when the variable is set; empty strings count as unset, as a container runtime would pass them.</summary>
    public bool IsSet(EnvVariable variable) => Raw(variable) is not null;

    /// <summary>The value set, else the default (null when there is none).</summary>
    public string? String(EnvVariable variable) => Raw(variable) ?? variable.Default;

    public bool Bool(EnvVariable variable)
    {
        var raw = Required(variable);
        return raw.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" or "on" => true,
            "false" or "0" or "no" or "off" => false,
            _ => throw new SettingsException($"{variable.Name}: expected true or false (or 1/0), got '{raw}'"),
        };
    }

    public long Long(EnvVariable variable, long min = long.MinValue, long max = long.MaxValue) =>
        LongOrNull(variable, min, max) ?? throw NoDefault(variable);

    /// <summary>The number set, else the default; null for a variable without a literal default that is unset.</summary>
    public long? LongOrNull(EnvVariable variable, long min = long.MinValue, long max = long.MaxValue)
    {
        var raw = String(variable);
        if (raw is null)
        {
            return null;
        }

        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw new SettingsException($"{variable.Name}: expected a whole number, got '{raw}'");
        }

        if (value < min || value > max)
        {
            throw new SettingsException($"{variable.Name}: must be between {min} and {max}, got {value}");
        }

        return value;
    }

    public TimeSpan Milliseconds(EnvVariable variable, long min, long max) => TimeSpan.FromMilliseconds(Long(variable, min, max));

    public TimeSpan Seconds(EnvVariable variable, long min, long max) => TimeSpan.FromSeconds(Long(variable, min, max));

    public int Port(EnvVariable variable) => (int)Long(variable, 1, 65535);

    /// <summary>The URL set, else the default; null for a variable without a literal default that is unset.</summary>
    public Uri? Url(EnvVariable variable, params string[] schemes)
    {
        var raw = String(variable);
        if (raw is null)
        {
            return null;
        }

        if (!Uri.TryCreate(raw.TrimEnd('/'), UriKind.Absolute, out var uri) || !schemes.Contains(uri.Scheme))
        {
            throw new SettingsException($"{variable.Name}: expected an absolute {string.Join(" or ", schemes)} URL, got '{raw}'");
        }

        return uri;
    }

    /// <summary>A URL path segment such as <c>livez</c>; a leading slash is tolerated.</summary>
    public string PathSegment(EnvVariable variable)
    {
        var raw = Required(variable);
        var trimmed = raw.Trim('/');
        if (trimmed.Length == 0 || trimmed.Any(c => char.IsWhiteSpace(c) || c is '?' or '#'))
        {
            throw new SettingsException($"{variable.Name}: expected a URL path like '{variable.Default}', got '{raw}'");
        }

        return "/" + trimmed;
    }

    private string? Raw(EnvVariable variable)
    {
        var value = lookup(variable.Name);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    private string Required(EnvVariable variable) => String(variable) ?? throw NoDefault(variable);

    // A typed read of a variable without a literal default is a mistake in this code, not in the environment.
    private static InvalidOperationException NoDefault(EnvVariable variable) =>
        new($"{variable.Name} has no literal default; read it with a nullable accessor");
}
