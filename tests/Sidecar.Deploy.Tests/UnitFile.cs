namespace Sidecar.Deploy.Tests;

/// <summary>A systemd unit file read as systemd reads it: sections of <c>Key=value</c> lines, a key may repeat.</summary>
internal sealed class UnitFile
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    public UnitFile(string text)
    {
        var section = string.Empty;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line[0] == '[')
            {
                section = line.Trim('[', ']');
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var key = section + "." + line[..equals].Trim();
            if (!_values.TryGetValue(key, out var list))
            {
                _values[key] = list = [];
            }

            list.Add(line[(equals + 1)..].Trim());
        }
    }

    /// <summary>Every value of <c>Section.Key</c> in file order (empty when absent).</summary>
    public IReadOnlyList<string> All(string key) => _values.TryGetValue(key, out var list) ? list : [];

    /// <summary>The value that wins: the last one.</summary>
    public string? this[string key] => All(key) is [.., var last] ? last : null;

    public bool Has(string key) => _values.ContainsKey(key);
}
