using Stigg.Sidecar.V1;

namespace Sidecar.Core.Model;

/// <summary>The evaluation class of a feature (stigg-behaviour §4.3).</summary>
public enum FeatureKind : byte
{
    Boolean = 0,
    Numeric = 1,
    Metered = 2,
    Enum = 3,
}

/// <summary>
/// One feature entitlement as the Edge returned it, immutable. All instants are Unix epoch milliseconds (UTC).
/// </summary>
public sealed record FeatureEntitlement
{
    public required string FeatureId { get; init; }
    public FeatureType FeatureType { get; init; }
    public MeterType MeterType { get; init; }
    public string? DisplayName { get; init; }
    public string? Units { get; init; }
    public string? UnitsPlural { get; init; }

    /// <summary>Null means the server gave no limit (treated as 0 for metered checks).</summary>
    public double? UsageLimit { get; init; }
    public bool HasUnlimitedUsage { get; init; }
    public bool HasSoftLimit { get; init; }
    public double CurrentUsage { get; init; }
    public IReadOnlyList<string> EnumValues { get; init; } = [];

    /// <summary>A server-computed denial on this entitlement (BudgetExceeded, Revoked, ...).</summary>
    public AccessDeniedReason? DeniedReason { get; init; }

    public long EntitlementUpdatedAt { get; init; }
    public long UsageUpdatedAt { get; init; }
    public long? UsagePeriodAnchor { get; init; }
    public long? UsagePeriodStart { get; init; }
    public long? UsagePeriodEnd { get; init; }
    public EntitlementResetPeriod? ResetPeriod { get; init; }
    public long? ValidUntil { get; init; }

    /// <summary>Credit-backed features: the currency their usage draws from.</summary>
    public string? CreditCurrencyId { get; init; }
    public double? CreditRateAmount { get; init; }

    public FeatureKind Kind => FeatureType switch
    {
        FeatureType.Boolean => FeatureKind.Boolean,
        FeatureType.Enum => FeatureKind.Enum,
        FeatureType.Number when MeterType is MeterType.Incremental or MeterType.Fluctuating => FeatureKind.Metered,
        FeatureType.Number => FeatureKind.Numeric,
        _ => FeatureKind.Boolean,
    };

    public bool IsMetered => Kind == FeatureKind.Metered;
}
