using System.Text.Json;
using System.Text.Json.Serialization;
using Sidecar.Core.Json;

namespace Sidecar.Upstream.Internal;

// Wire shapes of the responses and events this project reads beyond the shared entitlements DTOs.

internal sealed class ReportUsageData
{
    [JsonPropertyName("reportUsage")] public UsageMeasurementDto? ReportUsage { get; set; }
}

internal sealed class ReportUsageBulkData
{
    [JsonPropertyName("reportUsageBulk")] public List<UsageMeasurementDto>? ReportUsageBulk { get; set; }
}

/// <summary>Selection of <c>ReportUsageFragment</c> (§8.1).</summary>
internal sealed class UsageMeasurementDto
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("featureId")] public string? FeatureId { get; set; }
    [JsonPropertyName("customerId")] public string? CustomerId { get; set; }
    [JsonPropertyName("resourceId")] public string? ResourceId { get; set; }
    [JsonPropertyName("currentUsage")] public double? CurrentUsage { get; set; }

    [JsonPropertyName("usagePeriodStart"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodStart { get; set; }

    [JsonPropertyName("usagePeriodEnd"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodEnd { get; set; }

    [JsonPropertyName("nextResetDate"), JsonConverter(typeof(EpochMsConverter))]
    public long? NextResetDate { get; set; }

    [JsonPropertyName("timestamp"), JsonConverter(typeof(EpochMsConverter))]
    public long? Timestamp { get; set; }

    [JsonPropertyName("credit")] public CreditUsageDto? Credit { get; set; }
}

internal sealed class CreditUsageDto
{
    [JsonPropertyName("currencyId")] public string? CurrencyId { get; set; }
    [JsonPropertyName("currentUsage")] public double? CurrentUsage { get; set; }

    [JsonPropertyName("timestamp"), JsonConverter(typeof(EpochMsConverter))]
    public long? Timestamp { get; set; }

    [JsonPropertyName("usagePeriodEnd"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodEnd { get; set; }
}

/// <summary>One graphql-transport-ws frame: <c>{type, id?, payload?}</c>.</summary>
internal sealed class WsMessage
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("payload")] public JsonElement? Payload { get; set; }
}

internal sealed class EntitlementsUpdatedData
{
    [JsonPropertyName("entitlementsUpdatedV2")] public EntitlementsUpdatedDto? EntitlementsUpdatedV2 { get; set; }
}

internal sealed class EntitlementsUpdatedDto
{
    [JsonPropertyName("customerId")] public string? CustomerId { get; set; }
    [JsonPropertyName("resourceId")] public string? ResourceId { get; set; }
    [JsonPropertyName("accessDeniedReason")] public string? AccessDeniedReason { get; set; }
    [JsonPropertyName("entitlements")] public List<EntitlementDto>? Entitlements { get; set; }
}

internal sealed class UsageUpdatedData
{
    [JsonPropertyName("usageUpdatedV2")] public UsageUpdatedDto? UsageUpdatedV2 { get; set; }
}

internal sealed class UsageUpdatedDto
{
    [JsonPropertyName("customerId")] public string? CustomerId { get; set; }
    [JsonPropertyName("resourceId")] public string? ResourceId { get; set; }
    [JsonPropertyName("entitlementReference")] public EntitlementReferenceDto? EntitlementReference { get; set; }
    [JsonPropertyName("usage")] public UsageValueDto? Usage { get; set; }
}

internal sealed class EntitlementReferenceDto
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("type")] public string? Type { get; set; }
}

internal sealed class UsageValueDto
{
    [JsonPropertyName("currentUsage")] public double? CurrentUsage { get; set; }

    [JsonPropertyName("usageUpdatedAt"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsageUpdatedAt { get; set; }

    [JsonPropertyName("usagePeriodStart"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodStart { get; set; }

    [JsonPropertyName("usagePeriodEnd"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodEnd { get; set; }
}

internal sealed class PackagePublishedData
{
    [JsonPropertyName("packagePublished")] public PackagePublishedDto? PackagePublished { get; set; }
}

internal sealed class PackagePublishedDto
{
    [JsonPropertyName("packageRefId")] public string? PackageRefId { get; set; }
    [JsonPropertyName("packageType")] public string? PackageType { get; set; }
    [JsonPropertyName("migrationType")] public string? MigrationType { get; set; }
}

/// <summary>Source-generated serializers for this project's wire shapes (Native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(
    AllowTrailingCommas = true,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(GraphQlResponse<ReportUsageData>))]
[JsonSerializable(typeof(GraphQlResponse<ReportUsageBulkData>))]
[JsonSerializable(typeof(GraphQlResponse<JsonElement>))]
[JsonSerializable(typeof(GraphQlResponse<EntitlementsUpdatedData>))]
[JsonSerializable(typeof(GraphQlResponse<UsageUpdatedData>))]
[JsonSerializable(typeof(GraphQlResponse<PackagePublishedData>))]
[JsonSerializable(typeof(List<GraphQlError>))]
[JsonSerializable(typeof(WsMessage))]
internal sealed partial class UpstreamJsonContext : JsonSerializerContext;
