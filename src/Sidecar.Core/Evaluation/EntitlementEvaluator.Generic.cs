using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>The generic getters: any feature type in its oneof (GetEntitlement), and features or credits (V2).</summary>
public static partial class EntitlementEvaluator
{
    /// <summary>
    /// The generic getter: any feature type, answered in the matching oneof. A feature the snapshot does not hold is
    /// answered with the fallback (stigg-behaviour §4.3: Stigg's unified call does this), carrying the reason it is
    /// missing; the fallback's type comes from the options (§4.3) or else from the fallback's own fields.
    /// </summary>
    public static GetEntitlementResponse Entitlement(
        CustomerSnapshot? snapshot, GetEntitlementRequest request, FallbackSet fallbacks, long nowMs)
    {
        var featureId = request.FeatureId;
        if (snapshot is null)
        {
            return GenericFallback(request, fallbacks, AccessDeniedReason.Unknown);
        }

        if (!snapshot.TryGetFeature(featureId, out var entitlement))
        {
            return GenericFallback(request, fallbacks, AccessRules.MissingReason(snapshot));
        }

        var options = request.Options;
        var requestedUsage = options is { HasRequestedUsage: true } ? options.RequestedUsage : 0;
        var usage = UsagePeriod.Effective(entitlement, nowMs);
        var decision = AccessRules.Feature(snapshot, entitlement, usage.CurrentUsage, requestedUsage, options?.RequestedValues);
        var response = new GetEntitlementResponse { HasAccess = decision.HasAccess };
        if (decision.Reason is { } reason)
        {
            response.AccessDeniedReason = reason;
        }

        FeatureOneof.Set(new EvaluatedFeature(entitlement, usage), new GenericResponseTarget(response));
        return response;
    }

    /// <summary>
    /// The V2 getter: a feature by <c>feature_id</c> or a credit by <c>currency_id</c>. Both or neither is a bad
    /// target and answers with the fallback (§5.2).
    /// </summary>
    public static GetEntitlementV2Response EntitlementV2(
        CustomerSnapshot? snapshot, GetEntitlementV2Request request, FallbackSet fallbacks, long nowMs)
    {
        var byFeature = request.FeatureId.Length > 0;
        var byCurrency = request.CurrencyId.Length > 0;
        EntitlementV2 entitlement;
        if (byFeature == byCurrency)
        {
            entitlement = UntargetedFallbackV2(request.Options);
        }
        else if (byFeature)
        {
            entitlement = FeatureV2(snapshot, request.FeatureId, request.Options, fallbacks, nowMs);
        }
        else
        {
            entitlement = CreditV2(snapshot, request.CurrencyId, request.Options);
        }

        return new GetEntitlementV2Response { Entitlement = entitlement };
    }

    private static EntitlementV2 FeatureV2(
        CustomerSnapshot? snapshot, string featureId, GetEntitlementOptions? options, FallbackSet fallbacks, long nowMs)
    {
        if (snapshot is null)
        {
            return FeatureFallbackV2(featureId, options, fallbacks);
        }

        if (!snapshot.TryGetFeature(featureId, out var entitlement))
        {
            // Not a fallback (§4.3 typed-getter rule): a denial with an empty entitlement of the requested type.
            var missing = new EntitlementV2 { AccessDeniedReason = AccessRules.MissingReason(snapshot) };
            FeatureOneof.Set(new FallbackFeature(featureId, default, FallbackKind(options, default)), new V2Target(missing));
            return missing;
        }

        var requestedUsage = options is { HasRequestedUsage: true } ? options.RequestedUsage : 0;
        return EvaluatedFeatureV2(snapshot, entitlement, requestedUsage, options?.RequestedValues, nowMs);
    }

    private static EntitlementV2 CreditV2(CustomerSnapshot? snapshot, string currencyId, GetEntitlementOptions? options)
    {
        if (snapshot is null)
        {
            return CreditFallbackV2(currencyId, options);
        }

        if (!snapshot.TryGetCredit(currencyId, out var credit))
        {
            return new EntitlementV2
            {
                AccessDeniedReason = AccessRules.MissingReason(snapshot),
                Credit = ProtoMapping.CreditRef(currencyId, 0),
            };
        }

        var requestedUsage = options is { HasRequestedUsage: true } ? options.RequestedUsage : 0;
        return EvaluatedCreditV2(credit, requestedUsage);
    }

    /// <summary>A feature the snapshot holds, with its decision: shared by the V2 getter and the state list.</summary>
    private static EntitlementV2 EvaluatedFeatureV2(
        CustomerSnapshot snapshot,
        FeatureEntitlement entitlement,
        double requestedUsage,
        IReadOnlyList<string>? requestedValues,
        long nowMs)
    {
        var usage = UsagePeriod.Effective(entitlement, nowMs);
        var decision = AccessRules.Feature(snapshot, entitlement, usage.CurrentUsage, requestedUsage, requestedValues);
        var result = new EntitlementV2 { HasAccess = decision.HasAccess };
        if (decision.Reason is { } reason)
        {
            result.AccessDeniedReason = reason;
        }

        FeatureOneof.Set(new EvaluatedFeature(entitlement, usage), new V2Target(result));
        return result;
    }

    /// <summary>A credit the snapshot holds, with its decision: shared by the V2 getter and the state list.</summary>
    private static EntitlementV2 EvaluatedCreditV2(CreditGrant credit, double requestedUsage)
    {
        var decision = AccessRules.Credit(credit, requestedUsage);
        var result = new EntitlementV2 { HasAccess = decision.HasAccess, Credit = ProtoMapping.Credit(credit) };
        if (decision.Reason is { } reason)
        {
            result.AccessDeniedReason = reason;
        }

        return result;
    }
}
