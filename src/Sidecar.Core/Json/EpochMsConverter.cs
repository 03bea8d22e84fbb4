using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Core.Json;

/// <summary>
/// Reads an instant written as an ISO-8601 string or as epoch milliseconds (Stigg uses both) into epoch ms;
/// writes ISO-8601 with milliseconds, as the Edge does. Unparseable strings read as null (Stigg treats an invalid
/// date as absent).
/// </summary>
public sealed class EpochMsConverter : JsonConverter<long?>
{
    public override bool HandleNull => true;

    public override long? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number:
                return reader.TryGetInt64(out var ms) ? ms : (long)reader.GetDouble();
            case JsonTokenType.String:
                return Instants.TryParse(reader.GetString(), out var parsed) ? parsed : null;
            default:
                throw new JsonException($"Expected a date string or epoch milliseconds, got {reader.TokenType}.");
        }
    }

    public override void Write(Utf8JsonWriter writer, long? value, JsonSerializerOptions options)
    {
        if (value is { } ms)
        {
            writer.WriteStringValue(Instants.ToIso(ms));
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

/// <summary>Epoch-millisecond helpers shared by the JSON mappers.</summary>
public static class Instants
{
    public static bool TryParse(string? text, out long epochMs)
    {
        if (!string.IsNullOrEmpty(text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var dto))
        {
            epochMs = dto.ToUnixTimeMilliseconds();
            return true;
        }

        epochMs = 0;
        return false;
    }

    public static string ToIso(long epochMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(epochMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
