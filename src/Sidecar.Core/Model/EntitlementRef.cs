namespace Sidecar.Core.Model;

/// <summary>What a usage record belongs to: a feature (by feature id) or a credit currency (by currency id).</summary>
public enum EntitlementRefType : byte
{
    Feature = 0,
    Credit = 1,
}

/// <summary>
/// An absolute usage value for one entitlement, as the server reports it (WS usage event or usage-report result).
/// Usage updates have SET semantics and are guarded by <see cref="Timestamp"/> (DESIGN decision 2).
/// </summary>
public readonly record struct UsageUpdate(
    EntitlementRefType Type,
    string Id,
    double CurrentUsage,
    long? UsagePeriodStart,
    long? UsagePeriodEnd,
    long Timestamp);
