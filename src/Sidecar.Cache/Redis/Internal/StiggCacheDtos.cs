using System.Text.Json;
using System.Text.Json.Serialization;
using Sidecar.Core.Json;

namespace Sidecar.Cache.Redis.Internal;

// Read-side shapes of the values Stigg keeps in Redis (stigg-behaviour §7.2, §7.3). One class per object covers both
// the current format and the old 3.x one, so the migration rules can be applied on the parsed objects. Every field is
// optional; instants are accepted as epoch ms or ISO-8601. Writing goes through StiggCacheFormat (exact field set).

/// <summary>One value of the entitlements map: <c>{calculatedEntitlement, usageData}</c> (3.x: <c>featureUsage</c>).</summary>
internal sealed class CachedEntitlementJson
{
    [JsonPropertyName("calculatedEntitlement")] public CalculatedEntitlementJson? CalculatedEntitlement { get; set; }
    [JsonPropertyName("usageData")] public UsageDataJson? UsageData { get; set; }
    [JsonPropertyName("featureUsage")] public UsageDataJson? FeatureUsage { get; set; }
}

internal sealed class CalculatedEntitlementJson
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("feature")] public CachedFeatureJson? Feature { get; set; }
    [JsonPropertyName("currency")] public CachedCurrencyJson? Currency { get; set; }
    [JsonPropertyName("currencyId")] public string? CurrencyId { get; set; }
    [JsonPropertyName("accessDeniedReason")] public string? AccessDeniedReason { get; set; }
    [JsonPropertyName("usageLimit")] public double? UsageLimit { get; set; }
    [JsonPropertyName("hasUnlimitedUsage")] public bool? HasUnlimitedUsage { get; set; }
    [JsonPropertyName("hasSoftLimit")] public bool? HasSoftLimit { get; set; }
    [JsonPropertyName("enumValues")] public List<string>? EnumValues { get; set; }

    [JsonPropertyName("validUntil"), JsonConverter(typeof(EpochMsConverter))]
    public long? ValidUntil { get; set; }

    [JsonPropertyName("creditRate")] public CachedCreditRateJson? CreditRate { get; set; }

    [JsonPropertyName("usagePeriodAnchor"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodAnchor { get; set; }

    [JsonPropertyName("resetPeriod")] public string? ResetPeriod { get; set; }
    [JsonPropertyName("resetPeriodConfiguration")] public JsonElement? ResetPeriodConfiguration { get; set; }
}

internal sealed class CachedFeatureJson
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("displayName")] public string? DisplayName { get; set; }
    [JsonPropertyName("featureType")] public string? FeatureType { get; set; }
    [JsonPropertyName("meterType")] public string? MeterType { get; set; }
    [JsonPropertyName("units")] public string? Units { get; set; }
    [JsonPropertyName("unitsPlural")] public string? UnitsPlural { get; set; }
    [JsonPropertyName("description")] public string? Description { get; set; }
}

internal sealed class CachedCurrencyJson
{
    [JsonPropertyName("currencyId")] public string? CurrencyId { get; set; }
    [JsonPropertyName("displayName")] public string? DisplayName { get; set; }
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("unitSingular")] public string? UnitSingular { get; set; }
    [JsonPropertyName("unitPlural")] public string? UnitPlural { get; set; }
}

internal sealed class CachedCreditRateJson
{
    [JsonPropertyName("amount")] public double? Amount { get; set; }
    [JsonPropertyName("currencyId")] public string? CurrencyId { get; set; }
}

/// <summary>
/// <c>usageData</c> inside the entitlements map, the 3.x <c>featureUsage</c>, and the value of a usage key
/// (<c>P:C:f_…</c> / <c>P:C:credit_…</c>).
/// </summary>
internal sealed class UsageDataJson
{
    [JsonPropertyName("currentUsage")] public double? CurrentUsage { get; set; }

    [JsonPropertyName("usagePeriodStart"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodStart { get; set; }

    [JsonPropertyName("usagePeriodEnd"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodEnd { get; set; }

    [JsonPropertyName("updatedAt"), JsonConverter(typeof(EpochMsConverter))]
    public long? UpdatedAt { get; set; }

    // 3.x only: renamed or moved by the migration rules.
    [JsonPropertyName("nextResetDate"), JsonConverter(typeof(EpochMsConverter))]
    public long? NextResetDate { get; set; }

    [JsonPropertyName("usagePeriodAnchor"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodAnchor { get; set; }

    [JsonPropertyName("resetPeriod")] public string? ResetPeriod { get; set; }
    [JsonPropertyName("resetPeriodConfiguration")] public JsonElement? ResetPeriodConfiguration { get; set; }
}

/// <summary><c>P:C:metadata</c>.</summary>
internal sealed class CustomerMetadataJson
{
    [JsonPropertyName("accessDeniedReason")] public string? AccessDeniedReason { get; set; }
}

[JsonSourceGenerationOptions(
    NumberHandling = JsonNumberHandling.AllowReadingFromString,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(Dictionary<string, CachedEntitlementJson?>))]
[JsonSerializable(typeof(UsageDataJson))]
[JsonSerializable(typeof(CustomerMetadataJson))]
internal sealed partial class RedisJsonContext : JsonSerializerContext;
