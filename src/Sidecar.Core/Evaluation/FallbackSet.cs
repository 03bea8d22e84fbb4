using System.Text.Json;
using Sidecar.Core.Json;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// The global fallback map from <c>ENTITLEMENTS_FALLBACK</c> (stigg-behaviour §5.1): feature id to the answer to
/// give when no data can be obtained. Immutable once parsed; safe to share between threads.
/// </summary>
public sealed class FallbackSet
{
    private readonly Dictionary<string, FallbackDto> _byFeature;
    private readonly KeyValuePair<string, FallbackDto>[] _entries;

    private FallbackSet(Dictionary<string, FallbackDto> byFeature, KeyValuePair<string, FallbackDto>[] entries)
    {
        _byFeature = byFeature;
        _entries = entries;
    }

    /// <summary>No global fallback: every fallback answer uses the per-type defaults.</summary>
    public static FallbackSet Empty { get; } = new(new Dictionary<string, FallbackDto>(StringComparer.Ordinal), []);

    public int Count => _entries.Length;

    /// <summary>The entries in the order they appear in the JSON (used to build fallback lists).</summary>
    public IReadOnlyList<KeyValuePair<string, FallbackDto>> Entries => _entries;

    /// <summary>
    /// Parses the <c>ENTITLEMENTS_FALLBACK</c> JSON: an object mapping feature ids to
    /// <c>{"hasAccess": bool, "value"?: int, "isUnlimited"?: bool, "usageLimit"?: number, "enumValues"?: [string]}</c>.
    /// Null, empty or blank text means no fallback.
    /// </summary>
    /// <exception cref="FormatException">The text is not such an object; the message is one line saying why.</exception>
    public static FallbackSet Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return Empty;
        }

        Dictionary<string, FallbackDto>? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(json, CoreJsonContext.Default.DictionaryStringFallbackDto);
        }
        catch (JsonException ex)
        {
            throw new FormatException(OneLine("invalid JSON: " + ex.Message), ex);
        }

        if (parsed is null)
        {
            throw new FormatException("expected a JSON object mapping feature ids to fallback entitlements, got null");
        }

        var byFeature = new Dictionary<string, FallbackDto>(parsed.Count, StringComparer.Ordinal);
        var entries = new KeyValuePair<string, FallbackDto>[parsed.Count];
        var i = 0;
        foreach (var (featureId, fallback) in parsed)
        {
            if (string.IsNullOrWhiteSpace(featureId))
            {
                throw new FormatException("a feature id is empty; every key must be a feature id");
            }

            if (fallback is null)
            {
                throw new FormatException(
                    $"the fallback for feature '{featureId}' is null; expected an object such as {{\"hasAccess\": true}}");
            }

            byFeature[featureId] = fallback;
            entries[i++] = new KeyValuePair<string, FallbackDto>(featureId, fallback);
        }

        return new FallbackSet(byFeature, entries);
    }

    public bool TryGet(string featureId, out FallbackDto fallback) => _byFeature.TryGetValue(featureId, out fallback!);

    private static string OneLine(string message) =>
        message.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\n', ' ').Replace('\r', ' ');
}
