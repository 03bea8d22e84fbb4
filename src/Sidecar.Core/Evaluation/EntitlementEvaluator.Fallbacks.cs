using Google.Protobuf.Collections;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// Every fallback answer (§5): no data at all (reason Unknown), or a typed getter on the wrong type
/// (FeatureTypeMismatch), or the generic getter on a missing feature. A per-call fallback replaces the global entry
/// entirely; neither gives the per-type defaults (§5.2).
/// </summary>
public static partial class EntitlementEvaluator
{
    /// <summary>§5.1: the metered default fallback reports a requested usage of 1 when the caller gave none.</summary>
    private const double DefaultFallbackRequestedUsage = 1;

    private static GetBooleanEntitlementResponse BooleanFallback(
        GetBooleanEntitlementRequest request, FallbackSet fallbacks, AccessDeniedReason reason)
    {
        var fallback = request.Options?.Fallback is { } perCall
            ? FallbackValues.From(perCall)
            : FallbackValues.Resolve(fallbacks, request.FeatureId);
        return new GetBooleanEntitlementResponse
        {
            HasAccess = fallback.HasAccess,
            IsFallback = true,
            AccessDeniedReason = reason,
            Entitlement = ProtoMapping.BooleanFallback(request.FeatureId),
        };
    }

    private static GetNumericEntitlementResponse NumericFallback(
        GetNumericEntitlementRequest request, FallbackSet fallbacks, AccessDeniedReason reason)
    {
        var fallback = request.Options?.Fallback is { } perCall
            ? FallbackValues.From(perCall)
            : FallbackValues.Resolve(fallbacks, request.FeatureId);
        return new GetNumericEntitlementResponse
        {
            HasAccess = fallback.HasAccess,
            IsFallback = true,
            AccessDeniedReason = reason,
            Entitlement = ProtoMapping.NumericFallback(request.FeatureId, fallback),
        };
    }

    private static GetMeteredEntitlementResponse MeteredFallback(
        GetMeteredEntitlementRequest request, FallbackSet fallbacks, AccessDeniedReason reason)
    {
        var options = request.Options;
        var fallback = options?.Fallback is { } perCall
            ? FallbackValues.From(perCall)
            : FallbackValues.Resolve(fallbacks, request.FeatureId);
        return new GetMeteredEntitlementResponse
        {
            HasAccess = fallback.HasAccess,
            IsFallback = true,
            AccessDeniedReason = reason,
            RequestedUsage = options is { HasRequestedUsage: true } ? options.RequestedUsage : DefaultFallbackRequestedUsage,
            Entitlement = ProtoMapping.MeteredFallback(request.FeatureId, fallback),
        };
    }

    private static GetEnumEntitlementResponse EnumFallback(
        GetEnumEntitlementRequest request, FallbackSet fallbacks, AccessDeniedReason reason)
    {
        var fallback = request.Options?.Fallback is { } perCall
            ? FallbackValues.From(perCall)
            : FallbackValues.Resolve(fallbacks, request.FeatureId);

        // Stigg's enum fallback carries requestedValues = [] whatever was asked: nothing is echoed here.
        return new GetEnumEntitlementResponse
        {
            HasAccess = fallback.HasAccess,
            IsFallback = true,
            AccessDeniedReason = reason,
            Entitlement = ProtoMapping.EnumFallback(request.FeatureId, fallback),
        };
    }

    private static GetEntitlementResponse GenericFallback(
        GetEntitlementRequest request, FallbackSet fallbacks, AccessDeniedReason reason)
    {
        var options = request.Options;
        var featureId = request.FeatureId;
        var fallback = options?.Fallback is { } perCall
            ? FallbackValues.From(perCall)
            : FallbackValues.Resolve(fallbacks, featureId);
        var response = new GetEntitlementResponse
        {
            HasAccess = fallback.HasAccess,
            IsFallback = true,
            AccessDeniedReason = reason,
        };
        FeatureOneof.Set(new FallbackFeature(featureId, fallback, FallbackKind(options, fallback)), new GenericResponseTarget(response));
        return response;
    }

    /// <summary>GetEntitlementV2 for a feature without data.</summary>
    private static EntitlementV2 FeatureFallbackV2(string featureId, GetEntitlementOptions? options, FallbackSet fallbacks)
    {
        EntitlementV2 result;
        FallbackValues fallback;
        if (options?.Fallback is { } perCall)
        {
            // A per-call fallback is returned as given: the Unknown reason stays even with access.
            fallback = FallbackValues.From(perCall);
            result = new EntitlementV2 { HasAccess = fallback.HasAccess, IsFallback = true, AccessDeniedReason = AccessDeniedReason.Unknown };
        }
        else
        {
            // §5.2 V2 merge: the global fallback over the default; a merged grant drops the reason.
            fallback = FallbackValues.Resolve(fallbacks, featureId);
            result = new EntitlementV2 { HasAccess = fallback.HasAccess, IsFallback = true };
            if (!fallback.HasAccess)
            {
                result.AccessDeniedReason = AccessDeniedReason.Unknown;
            }
        }

        FeatureOneof.Set(new FallbackFeature(featureId, fallback, FallbackKind(options, fallback)), new V2Target(result));
        return result;
    }

    /// <summary>GetEntitlementV2 for a credit without data.</summary>
    private static EntitlementV2 CreditFallbackV2(string currencyId, GetEntitlementOptions? options)
    {
        // Credits have no global fallback map in the Sidecar: only the per-call fallback applies.
        var perCall = options?.Fallback;
        return new EntitlementV2
        {
            HasAccess = perCall?.HasAccess ?? false,
            IsFallback = true,
            AccessDeniedReason = AccessDeniedReason.Unknown,
            Credit = ProtoMapping.CreditRef(currencyId, perCall is { HasUsageLimit: true } ? perCall.UsageLimit : 0),
        };
    }

    /// <summary>GetEntitlementV2 with both or neither target: the per-call fallback only, no oneof.</summary>
    private static EntitlementV2 UntargetedFallbackV2(GetEntitlementOptions? options) => new()
    {
        HasAccess = options?.Fallback?.HasAccess ?? false,
        IsFallback = true,
        AccessDeniedReason = AccessDeniedReason.Unknown,
    };

    /// <summary>The legacy list without data: one entry per global fallback, its type from its fields.</summary>
    private static void AddFallbackEntitlements(RepeatedField<Entitlement> list, FallbackSet fallbacks)
    {
        var entries = fallbacks.Entries;
        for (var i = 0; i < entries.Count; i++)
        {
            var fallback = FallbackValues.From(entries[i].Value);
            var item = new Entitlement();
            FeatureOneof.Set(new FallbackFeature(entries[i].Key, fallback, fallback.ShapeKind), new ListItemTarget(item));
            list.Add(item);
        }
    }

    /// <summary>The state list without data (§5.3): every global fallback, each with reason Unknown.</summary>
    private static void AddFallbackEntitlementsV2(RepeatedField<EntitlementV2> list, FallbackSet fallbacks)
    {
        var entries = fallbacks.Entries;
        for (var i = 0; i < entries.Count; i++)
        {
            var fallback = FallbackValues.From(entries[i].Value);
            var item = new EntitlementV2
            {
                HasAccess = fallback.HasAccess,
                IsFallback = true,
                AccessDeniedReason = AccessDeniedReason.Unknown,
            };
            FeatureOneof.Set(new FallbackFeature(entries[i].Key, fallback, fallback.ShapeKind), new V2Target(item));
            list.Add(item);
        }
    }

    /// <summary>
    /// The type of a fallback answer when no entitlement says it (§4.3): a requested usage makes it metered,
    /// requested values an enum; otherwise the fallback's own fields decide.
    /// </summary>
    private static FeatureKind FallbackKind(GetEntitlementOptions? options, in FallbackValues fallback)
    {
        if (options is not null)
        {
            if (options.HasRequestedUsage)
            {
                return FeatureKind.Metered;
            }

            if (options.RequestedValues.Count > 0)
            {
                return FeatureKind.Enum;
            }
        }

        return fallback.ShapeKind;
    }
}
