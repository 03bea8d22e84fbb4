using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>The whole-customer lists: the legacy <c>GetEntitlements</c> and <c>GetEntitlementsStateV2</c>.</summary>
public static partial class EntitlementEvaluator
{
    /// <summary>
    /// The legacy list: every feature entitlement in its typed oneof (credits are not part of it) and the
    /// customer-level reason. Without data: one fallback entry per global fallback, no reason.
    /// </summary>
    public static GetEntitlementsResponse Entitlements(
        CustomerSnapshot? snapshot, GetEntitlementsRequest request, FallbackSet fallbacks, long nowMs)
    {
        var response = new GetEntitlementsResponse();
        if (snapshot is null)
        {
            AddFallbackEntitlements(response.Entitlements, fallbacks);
            return response;
        }

        var list = response.Entitlements;
        var features = snapshot.Features;
        for (var i = 0; i < features.Count; i++)
        {
            var feature = features[i];
            var item = new Entitlement();
            FeatureOneof.Set(new EvaluatedFeature(feature, UsagePeriod.Effective(feature, nowMs)), new ListItemTarget(item));
            list.Add(item);
        }

        if (snapshot.CustomerReason is { } reason)
        {
            response.AccessDeniedReason = reason;
        }

        return response;
    }

    /// <summary>
    /// Every feature and credit with its access decision (nothing requested) and the customer-level reason. Without
    /// data: the global fallbacks, each <c>is_fallback</c> with reason Unknown, and no top-level reason (§5.3).
    /// </summary>
    public static GetEntitlementsStateV2Response EntitlementsStateV2(
        CustomerSnapshot? snapshot, GetEntitlementsStateV2Request request, FallbackSet fallbacks, long nowMs)
    {
        var response = new GetEntitlementsStateV2Response();
        if (snapshot is null)
        {
            AddFallbackEntitlementsV2(response.Entitlements, fallbacks);
            return response;
        }

        var list = response.Entitlements;
        var features = snapshot.Features;
        for (var i = 0; i < features.Count; i++)
        {
            list.Add(EvaluatedFeatureV2(snapshot, features[i], 0, null, nowMs));
        }

        var credits = snapshot.Credits;
        for (var i = 0; i < credits.Count; i++)
        {
            list.Add(EvaluatedCreditV2(credits[i], 0));
        }

        if (snapshot.CustomerReason is { } reason)
        {
            response.AccessDeniedReason = reason;
        }

        return response;
    }
}
