using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Core.Json;

// The JSON shapes Stigg speaks (stigg-behaviour §2.2, §3.2). Property names are the wire names; every field is
// optional on read because the Edge, the GraphQL API and older SDK versions each omit different ones.

/// <summary>A GraphQL-style response envelope: the Edge and <c>POST /graphql</c> both answer with it.</summary>
public sealed class GraphQlResponse<TData>
{
    [JsonPropertyName("data")] public TData? Data { get; set; }
    [JsonPropertyName("errors")] public List<GraphQlError>? Errors { get; set; }
}

public sealed class GraphQlError
{
    [JsonPropertyName("message")] public string? Message { get; set; }
    [JsonPropertyName("extensions")] public JsonElement? Extensions { get; set; }
}

public sealed class EntitlementsStateData
{
    [JsonPropertyName("entitlementsState")] public EntitlementsStateDto? EntitlementsState { get; set; }
}

/// <summary>Stigg's <c>EntitlementsState</c>: the customer-level reason plus the V2 entitlement union list.</summary>
public sealed class EntitlementsStateDto
{
    [JsonPropertyName("__typename")] public string? TypeName { get; set; } = "EntitlementsState";
    [JsonPropertyName("accessDeniedReason")] public string? AccessDeniedReason { get; set; }
    [JsonPropertyName("entitlementsV2")] public List<EntitlementDto> EntitlementsV2 { get; set; } = [];
}

/// <summary>One member of the V2 entitlement union: <c>FeatureEntitlement</c> or <c>CreditEntitlement</c>.</summary>
public sealed class EntitlementDto
{
    public const string FeatureTypeName = "FeatureEntitlement";
    public const string CreditTypeName = "CreditEntitlement";

    [JsonPropertyName("__typename")] public string? TypeName { get; set; }
    [JsonPropertyName("isGranted")] public bool? IsGranted { get; set; }
    [JsonPropertyName("accessDeniedReason")] public string? AccessDeniedReason { get; set; }
    [JsonPropertyName("usageLimit")] public double? UsageLimit { get; set; }
    [JsonPropertyName("hasUnlimitedUsage")] public bool? HasUnlimitedUsage { get; set; }
    [JsonPropertyName("hasSoftLimit")] public bool? HasSoftLimit { get; set; }
    [JsonPropertyName("currentUsage")] public double? CurrentUsage { get; set; }
    [JsonPropertyName("enumValues")] public List<string>? EnumValues { get; set; }

    [JsonPropertyName("entitlementUpdatedAt"), JsonConverter(typeof(EpochMsConverter))]
    public long? EntitlementUpdatedAt { get; set; }

    [JsonPropertyName("usageUpdatedAt"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsageUpdatedAt { get; set; }

    [JsonPropertyName("usagePeriodAnchor"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodAnchor { get; set; }

    [JsonPropertyName("usagePeriodStart"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodStart { get; set; }

    [JsonPropertyName("usagePeriodEnd"), JsonConverter(typeof(EpochMsConverter))]
    public long? UsagePeriodEnd { get; set; }

    [JsonPropertyName("resetPeriod")] public string? ResetPeriod { get; set; }
    [JsonPropertyName("resetPeriodConfiguration")] public JsonElement? ResetPeriodConfiguration { get; set; }
    [JsonPropertyName("feature")] public FeatureDto? Feature { get; set; }
    [JsonPropertyName("creditRate")] public CreditRateDto? CreditRate { get; set; }
    [JsonPropertyName("currency")] public CurrencyDto? Currency { get; set; }

    /// <summary>A DateTime in the V2 schema, epoch-ms float in the legacy one: both are accepted.</summary>
    [JsonPropertyName("validUntil"), JsonConverter(typeof(EpochMsConverter))]
    public long? ValidUntil { get; set; }

    [JsonIgnore] public bool IsCredit => TypeName == CreditTypeName || (TypeName is null && Currency is not null && Feature is null);
}

public sealed class FeatureDto
{
    [JsonPropertyName("__typename")] public string? TypeName { get; set; } = "EntitlementFeature";
    [JsonPropertyName("refId")] public string? RefId { get; set; }
    [JsonPropertyName("displayName")] public string? DisplayName { get; set; }
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("featureType")] public string? FeatureType { get; set; }
    [JsonPropertyName("meterType")] public string? MeterType { get; set; }
    [JsonPropertyName("featureUnits")] public string? FeatureUnits { get; set; }
    [JsonPropertyName("featureUnitsPlural")] public string? FeatureUnitsPlural { get; set; }
    [JsonPropertyName("unitTransformation")] public JsonElement? UnitTransformation { get; set; }
}

public sealed class CreditRateDto
{
    [JsonPropertyName("amount")] public double Amount { get; set; }
    [JsonPropertyName("currencyId")] public string? CurrencyId { get; set; }
}

public sealed class CurrencyDto
{
    [JsonPropertyName("currencyId")] public string? CurrencyId { get; set; }
    [JsonPropertyName("displayName")] public string? DisplayName { get; set; }
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("unitSingular")] public string? UnitSingular { get; set; }
    [JsonPropertyName("unitPlural")] public string? UnitPlural { get; set; }
}

/// <summary>
/// The local entitlements file (<c>ENTITLEMENTS_FILE</c>) and the emulator's fixture: Edge-shaped
/// <c>entitlementsState</c> documents for many customers.
/// </summary>
public sealed class EntitlementsFile
{
    [JsonPropertyName("customers")] public List<FileCustomer> Customers { get; set; } = [];
}

public sealed class FileCustomer
{
    [JsonPropertyName("customerId")] public string? CustomerId { get; set; }
    [JsonPropertyName("resourceId")] public string? ResourceId { get; set; }
    [JsonPropertyName("entitlementsState")] public EntitlementsStateDto? EntitlementsState { get; set; }
}

/// <summary>
/// One entry of <c>ENTITLEMENTS_FALLBACK</c> (stigg-behaviour §5.1): the union of the boolean, numeric, metered,
/// enum (and credit) fallback shapes.
/// </summary>
public sealed class FallbackDto
{
    [JsonPropertyName("hasAccess")] public bool HasAccess { get; set; }
    [JsonPropertyName("value")] public int? Value { get; set; }
    [JsonPropertyName("isUnlimited")] public bool? IsUnlimited { get; set; }
    [JsonPropertyName("usageLimit")] public double? UsageLimit { get; set; }
    [JsonPropertyName("currentUsage")] public double? CurrentUsage { get; set; }
    [JsonPropertyName("enumValues")] public List<string>? EnumValues { get; set; }
}
