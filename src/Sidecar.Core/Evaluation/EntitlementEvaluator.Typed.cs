using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>The typed getters (§4.2, §4.3): one feature, answered only in its own type.</summary>
public static partial class EntitlementEvaluator
{
    public static GetBooleanEntitlementResponse Boolean(
        CustomerSnapshot? snapshot, GetBooleanEntitlementRequest request, FallbackSet fallbacks, long nowMs)
    {
        var featureId = request.FeatureId;
        if (snapshot is null)
        {
            return BooleanFallback(request, fallbacks, AccessDeniedReason.Unknown);
        }

        if (!snapshot.TryGetFeature(featureId, out var entitlement))
        {
            return new GetBooleanEntitlementResponse
            {
                AccessDeniedReason = AccessRules.MissingReason(snapshot),
                Entitlement = ProtoMapping.BooleanFallback(featureId),
            };
        }

        if (entitlement.Kind != FeatureKind.Boolean)
        {
            return BooleanFallback(request, fallbacks, AccessDeniedReason.FeatureTypeMismatch);
        }

        var decision = AccessRules.Feature(snapshot, entitlement, entitlement.CurrentUsage, 0, null);
        var response = new GetBooleanEntitlementResponse
        {
            HasAccess = decision.HasAccess,
            Entitlement = ProtoMapping.Boolean(entitlement),
        };
        if (decision.Reason is { } reason)
        {
            response.AccessDeniedReason = reason;
        }

        return response;
    }

    public static GetNumericEntitlementResponse Numeric(
        CustomerSnapshot? snapshot, GetNumericEntitlementRequest request, FallbackSet fallbacks, long nowMs)
    {
        var featureId = request.FeatureId;
        if (snapshot is null)
        {
            return NumericFallback(request, fallbacks, AccessDeniedReason.Unknown);
        }

        if (!snapshot.TryGetFeature(featureId, out var entitlement))
        {
            return new GetNumericEntitlementResponse
            {
                AccessDeniedReason = AccessRules.MissingReason(snapshot),
                Entitlement = ProtoMapping.NumericFallback(featureId, default),
            };
        }

        if (entitlement.Kind != FeatureKind.Numeric)
        {
            return NumericFallback(request, fallbacks, AccessDeniedReason.FeatureTypeMismatch);
        }

        var decision = AccessRules.Feature(snapshot, entitlement, entitlement.CurrentUsage, 0, null);
        var response = new GetNumericEntitlementResponse
        {
            HasAccess = decision.HasAccess,
            Entitlement = ProtoMapping.Numeric(entitlement),
        };
        if (decision.Reason is { } reason)
        {
            response.AccessDeniedReason = reason;
        }

        return response;
    }

    public static GetMeteredEntitlementResponse Metered(
        CustomerSnapshot? snapshot, GetMeteredEntitlementRequest request, FallbackSet fallbacks, long nowMs)
    {
        var featureId = request.FeatureId;
        var options = request.Options;
        if (snapshot is null)
        {
            return MeteredFallback(request, fallbacks, AccessDeniedReason.Unknown);
        }

        var requestedUsage = options is { HasRequestedUsage: true } ? options.RequestedUsage : 0;
        if (!snapshot.TryGetFeature(featureId, out var entitlement))
        {
            return new GetMeteredEntitlementResponse
            {
                AccessDeniedReason = AccessRules.MissingReason(snapshot),
                RequestedUsage = requestedUsage,
                Entitlement = ProtoMapping.MeteredFallback(featureId, default),
            };
        }

        if (entitlement.Kind != FeatureKind.Metered)
        {
            return MeteredFallback(request, fallbacks, AccessDeniedReason.FeatureTypeMismatch);
        }

        var usage = UsagePeriod.Effective(entitlement, nowMs);
        var decision = AccessRules.Feature(snapshot, entitlement, usage.CurrentUsage, requestedUsage, null);
        var response = new GetMeteredEntitlementResponse
        {
            HasAccess = decision.HasAccess,
            RequestedUsage = requestedUsage,
            Entitlement = ProtoMapping.Metered(entitlement, usage),
        };
        if (decision.Reason is { } reason)
        {
            response.AccessDeniedReason = reason;
        }

        return response;
    }

    /// <summary>
    /// Evaluated answers (allowed, denied, or the feature missing from the plan) echo the requested values; the
    /// fallback does not (<c>EnumFallback</c>).
    /// </summary>
    public static GetEnumEntitlementResponse Enum(
        CustomerSnapshot? snapshot, GetEnumEntitlementRequest request, FallbackSet fallbacks, long nowMs)
    {
        var featureId = request.FeatureId;
        if (snapshot is null)
        {
            return EnumFallback(request, fallbacks, AccessDeniedReason.Unknown);
        }

        var requestedValues = request.Options?.RequestedValues;
        if (!snapshot.TryGetFeature(featureId, out var entitlement))
        {
            var missing = new GetEnumEntitlementResponse
            {
                AccessDeniedReason = AccessRules.MissingReason(snapshot),
                Entitlement = ProtoMapping.EnumFallback(featureId, default),
            };
            EchoRequestedValues(missing, requestedValues);
            return missing;
        }

        if (entitlement.Kind != FeatureKind.Enum)
        {
            return EnumFallback(request, fallbacks, AccessDeniedReason.FeatureTypeMismatch);
        }

        var decision = AccessRules.Feature(snapshot, entitlement, entitlement.CurrentUsage, 0, requestedValues);
        var response = new GetEnumEntitlementResponse
        {
            HasAccess = decision.HasAccess,
            Entitlement = ProtoMapping.Enum(entitlement),
        };
        if (decision.Reason is { } reason)
        {
            response.AccessDeniedReason = reason;
        }

        EchoRequestedValues(response, requestedValues);
        return response;
    }

    private static void EchoRequestedValues(GetEnumEntitlementResponse response, IReadOnlyList<string>? requestedValues)
    {
        if (requestedValues is { Count: > 0 })
        {
            ProtoMapping.AddAll(response.RequestedValues, requestedValues);
        }
    }
}
