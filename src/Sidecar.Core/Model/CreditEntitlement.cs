using Stigg.Sidecar.V1;

namespace Sidecar.Core.Model;

/// <summary>A credit grant in one currency, immutable. Instants are Unix epoch milliseconds (UTC).</summary>
public sealed record CreditGrant
{
    public required string CurrencyId { get; init; }
    public string? DisplayName { get; init; }
    public string? Description { get; init; }
    public string? UnitSingular { get; init; }
    public string? UnitPlural { get; init; }

    /// <summary>Total granted.</summary>
    public double UsageLimit { get; init; }

    /// <summary>Consumed so far.</summary>
    public double CurrentUsage { get; init; }
    public bool HasSoftLimit { get; init; }
    public AccessDeniedReason? DeniedReason { get; init; }
    public long EntitlementUpdatedAt { get; init; }
    public long UsageUpdatedAt { get; init; }
    public long? UsagePeriodEnd { get; init; }
    public long? ValidUntil { get; init; }

    public double Remaining => UsageLimit - CurrentUsage;
}
