using System.Text.Json.Serialization;

namespace Sidecar.Core.Json;

/// <summary>Source-generated serializers for Stigg's JSON (no reflection: Native AOT safe).</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(GraphQlResponse<EntitlementsStateData>))]
[JsonSerializable(typeof(EntitlementsStateDto))]
[JsonSerializable(typeof(EntitlementsFile))]
[JsonSerializable(typeof(Dictionary<string, FallbackDto>))]
public sealed partial class CoreJsonContext : JsonSerializerContext;
