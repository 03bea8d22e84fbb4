using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// The access decision for one entitlement that exists (stigg-behaviour §4.2 steps 3-4, §4.5; DESIGN decision 1).
/// Pure and allocation-free.
/// </summary>
internal static class AccessRules
{
    /// <summary>The reason for an entitlement the snapshot does not hold: the customer-level one, if any.</summary>
    public static AccessDeniedReason MissingReason(CustomerSnapshot snapshot) =>
        snapshot.CustomerReason ?? AccessDeniedReason.NoFeatureEntitlementInSubscription;

    /// <param name="snapshot">Where a credit-backed feature's credit balance is looked up.</param>
    /// <param name="entitlement">The feature entitlement.</param>
    /// <param name="currentUsage">The effective (rolled-over) usage.</param>
    /// <param name="requestedUsage">How much the caller is about to use (0 when not asked).</param>
    /// <param name="requestedValues">Enum values the caller needs (null or empty: none).</param>
    public static Decision Feature(
        CustomerSnapshot snapshot,
        FeatureEntitlement entitlement,
        double currentUsage,
        double requestedUsage,
        IReadOnlyList<string>? requestedValues)
    {
        if (entitlement.DeniedReason is { } serverReason)
        {
            return Decision.Deny(serverReason);
        }

        var decision = entitlement.Kind switch
        {
            FeatureKind.Metered => Metered(entitlement, currentUsage, requestedUsage),
            FeatureKind.Enum => Enum(entitlement, requestedValues),
            _ => Decision.Allow,
        };

        // The credit balance only matters when the feature itself would allow: its own reason comes first.
        return decision.HasAccess && entitlement.CreditCurrencyId is { } currencyId
            ? CreditBacking(snapshot, currencyId, entitlement.CreditRateAmount ?? 0, requestedUsage)
            : decision;
    }

    /// <summary>
    /// A credit grant: <c>remaining = limit - usage</c>; denied when nothing remains or the request exceeds what
    /// remains, unless the grant has a soft limit.
    /// </summary>
    public static Decision Credit(CreditGrant credit, double requestedUsage)
    {
        if (credit.DeniedReason is { } serverReason)
        {
            return Decision.Deny(serverReason);
        }

        return Sufficient(credit, requestedUsage) ? Decision.Allow : Decision.Deny(AccessDeniedReason.InsufficientCredits);
    }

    private static Decision Metered(FeatureEntitlement entitlement, double currentUsage, double requestedUsage)
    {
        if (entitlement.HasUnlimitedUsage || entitlement.HasSoftLimit)
        {
            return Decision.Allow;
        }

        // At the limit with nothing requested is still access (Stigg's rule; callers pass requested_usage to ask).
        return currentUsage + requestedUsage <= (entitlement.UsageLimit ?? 0)
            ? Decision.Allow
            : Decision.Deny(AccessDeniedReason.RequestedUsageExceedingLimit);
    }

    private static Decision Enum(FeatureEntitlement entitlement, IReadOnlyList<string>? requestedValues)
    {
        if (requestedValues is null)
        {
            return Decision.Allow;
        }

        var allowed = entitlement.EnumValues;
        for (var i = 0; i < requestedValues.Count; i++)
        {
            if (!Contains(allowed, requestedValues[i]))
            {
                return Decision.Deny(AccessDeniedReason.RequestedValuesMismatch);
            }
        }

        return Decision.Allow;
    }

    private static Decision CreditBacking(CustomerSnapshot snapshot, string currencyId, double rate, double requestedUsage)
    {
        // No grant in the snapshot: nothing to check against (the server marks the feature if it is starved).
        if (!snapshot.TryGetCredit(currencyId, out var credit))
        {
            return Decision.Allow;
        }

        return Sufficient(credit, requestedUsage * rate) ? Decision.Allow : Decision.Deny(AccessDeniedReason.InsufficientCredits);
    }

    private static bool Sufficient(CreditGrant credit, double needed)
    {
        if (credit.HasSoftLimit)
        {
            return true;
        }

        var remaining = credit.Remaining;
        return remaining > 0 && needed <= remaining;
    }

    private static bool Contains(IReadOnlyList<string> values, string value)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (string.Equals(values[i], value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
