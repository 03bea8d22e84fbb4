using System.Globalization;

namespace Sidecar.Host.Configuration;

/// <summary>A bad setting: the process refuses to start and prints this one line.</summary>
internal sealed class SettingsException(string message) : Exception(message);

/// <summary>Reads typed values from environment variables; every failure names the variable.</summary>
internal sealed class EnvReader(Func<string, string?> lookup)
{
    public static EnvReader FromProcess() => new(Environment.GetEnvironmentVariable);

    /// <summary>The raw value; empty strings count as unset, as a container runtime would pass them.</summary>
    public string? String(string name)
    {
        var value = lookup(name);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    public string String(string name, string defaultValue) => String(name) ?? defaultValue;

    public bool Bool(string name, bool defaultValue)
    {
        var raw = String(name);
        return raw?.ToLowerInvariant() switch
        {
            null => defaultValue,
            "true" or "1" or "yes" or "on" => true,
            "false" or "0" or "no" or "off" => false,
            _ => throw new SettingsException($"{name}: expected true or false (or 1/0), got '{raw}'"),
        };
    }

    public long Long(string name, long defaultValue, long min = long.MinValue, long max = long.MaxValue) =>
        LongOrNull(name, min, max) ?? defaultValue;

    public long? LongOrNull(string name, long min = long.MinValue, long max = long.MaxValue)
    {
        var raw = String(name);
        if (raw is null)
        {
            return null;
        }

        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw new SettingsException($"{name}: expected a whole number, got '{raw}'");
        }

        if (value < min || value > max)
        {
            throw new SettingsException($"{name}: must be between {min} and {max}, got {value}");
        }

        return value;
    }

    public TimeSpan Milliseconds(string name, TimeSpan defaultValue, long min, long max) =>
        LongOrNull(name, min, max) is { } ms ? TimeSpan.FromMilliseconds(ms) : defaultValue;

    public TimeSpan Seconds(string name, TimeSpan defaultValue, long min, long max) =>
        LongOrNull(name, min, max) is { } seconds ? TimeSpan.FromSeconds(seconds) : defaultValue;

    public int Port(string name, int defaultValue) => (int)Long(name, defaultValue, 1, 65535);

    public Uri? UrlOrNull(string name, params string[] schemes)
    {
        var raw = String(name);
        if (raw is null)
        {
            return null;
        }

        if (!Uri.TryCreate(raw.TrimEnd('/'), UriKind.Absolute, out var uri) || !schemes.Contains(uri.Scheme))
        {
            throw new SettingsException($"{name}: expected an absolute {string.Join(" or ", schemes)} URL, got '{raw}'");
        }

        return uri;
    }

    /// <summary>A URL path segment such as <c>livez</c>; a leading slash is tolerated.</summary>
    public string PathSegment(string name, string defaultValue)
    {
        var raw = String(name) ?? defaultValue;
        var trimmed = raw.Trim('/');
        if (trimmed.Length == 0 || trimmed.Any(c => char.IsWhiteSpace(c) || c is '?' or '#'))
        {
            throw new SettingsException($"{name}: expected a URL path like '{defaultValue}', got '{raw}'");
        }

        return "/" + trimmed;
    }
}
