using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// One fallback answer, whichever shape it came in (a per-call proto fallback or a global JSON entry), flattened so
/// the response builders need one code path. <c>default</c> is "no fallback": the per-type defaults of §5.1.
/// </summary>
internal readonly struct FallbackValues
{
    private FallbackValues(
        bool hasAccess, int? value, bool? isUnlimited, double? usageLimit, double? currentUsage, IReadOnlyList<string>? enumValues)
    {
        HasAccess = hasAccess;
        Value = value;
        IsUnlimited = isUnlimited;
        UsageLimit = usageLimit;
        CurrentUsage = currentUsage;
        EnumValues = enumValues;
    }

    public bool HasAccess { get; }
    public int? Value { get; }
    public bool? IsUnlimited { get; }
    public double? UsageLimit { get; }
    public double? CurrentUsage { get; }
    public IReadOnlyList<string>? EnumValues { get; }

    /// <summary>
    /// The kind a fallback's own fields imply, for lists and the generic call: a value makes it numeric, a usage
    /// limit or usage metered, enum values an enum; anything else is boolean.
    /// </summary>
    public FeatureKind ShapeKind =>
        Value.HasValue ? FeatureKind.Numeric
        : UsageLimit.HasValue || CurrentUsage.HasValue ? FeatureKind.Metered
        : EnumValues is { Count: > 0 } ? FeatureKind.Enum
        : FeatureKind.Boolean;

    /// <summary>§5.2: a per-call fallback replaces the global one entirely; neither gives the defaults.</summary>
    public static FallbackValues Resolve(FallbackSet fallbacks, string featureId) =>
        fallbacks.TryGet(featureId, out var global) ? From(global) : default;

    public static FallbackValues From(FallbackDto dto) =>
        new(dto.HasAccess, dto.Value, dto.IsUnlimited, dto.UsageLimit, dto.CurrentUsage, dto.EnumValues);

    public static FallbackValues From(BooleanEntitlementFallback fallback) =>
        new(fallback.HasAccess, null, null, null, null, null);

    public static FallbackValues From(NumericEntitlementFallback fallback) =>
        new(
            fallback.HasAccess,
            fallback.HasValue ? fallback.Value : null,
            fallback.HasIsUnlimited ? fallback.IsUnlimited : null,
            null,
            null,
            null);

    public static FallbackValues From(MeteredEntitlementFallback fallback) =>
        new(
            fallback.HasAccess,
            null,
            fallback.HasIsUnlimited ? fallback.IsUnlimited : null,
            fallback.HasUsageLimit ? fallback.UsageLimit : null,
            null,
            null);

    public static FallbackValues From(EnumEntitlementFallback fallback) =>
        new(fallback.HasAccess, null, null, null, null, fallback.EnumValues);

    public static FallbackValues From(GetEntitlementFallback fallback) =>
        new(
            fallback.HasAccess,
            fallback.HasValue ? fallback.Value : null,
            fallback.HasIsUnlimited ? fallback.IsUnlimited : null,
            fallback.HasUsageLimit ? fallback.UsageLimit : null,
            null,
            fallback.EnumValues);
}
