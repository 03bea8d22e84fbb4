using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// Answers every read RPC from a customer snapshot: pure, no I/O, and on a hit it allocates only the response
/// messages. Rules: stigg-behaviour §4 (evaluation), §5 (fallback) and DESIGN decision 1.
/// </summary>
/// <remarks>
/// A null snapshot means no data could be obtained (upstream unreachable, offline): the answer is the fallback,
/// <c>is_fallback = true</c>. A snapshot is evaluated as given; refetching on an expired <c>validUntil</c> is the
/// cache's job.
/// </remarks>
public static class EntitlementEvaluator
{
    /// <summary>§5.1: the metered default fallback reports a requested usage of 1 when the caller gave none.</summary>
    private const double DefaultFallbackRequestedUsage = 1;

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

        switch (entitlement.Kind)
        {
            case FeatureKind.Numeric:
                response.Numeric = ProtoMapping.Numeric(entitlement);
                break;
            case FeatureKind.Metered:
                response.Metered = ProtoMapping.Metered(entitlement, usage);
                break;
            case FeatureKind.Enum:
                response.Enum = ProtoMapping.Enum(entitlement);
                break;
            default:
                response.Boolean = ProtoMapping.Boolean(entitlement);
                break;
        }

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

    /// <summary>
    /// The legacy list: every feature entitlement in its typed oneof (credits are not part of it) and the
    /// customer-level reason. Without data: one fallback entry per global fallback, no reason.
    /// </summary>
    public static GetEntitlementsResponse Entitlements(
        CustomerSnapshot? snapshot, GetEntitlementsRequest request, FallbackSet fallbacks, long nowMs)
    {
        var response = new GetEntitlementsResponse();
        var list = response.Entitlements;
        if (snapshot is null)
        {
            var entries = fallbacks.Entries;
            for (var i = 0; i < entries.Count; i++)
            {
                var fallback = FallbackValues.From(entries[i].Value);
                list.Add(FallbackListEntitlement(entries[i].Key, fallback));
            }

            return response;
        }

        var features = snapshot.Features;
        for (var i = 0; i < features.Count; i++)
        {
            var feature = features[i];
            var item = new Entitlement();
            switch (feature.Kind)
            {
                case FeatureKind.Numeric:
                    item.Numeric = ProtoMapping.Numeric(feature);
                    break;
                case FeatureKind.Metered:
                    item.Metered = ProtoMapping.Metered(feature, UsagePeriod.Effective(feature, nowMs));
                    break;
                case FeatureKind.Enum:
                    item.Enum = ProtoMapping.Enum(feature);
                    break;
                default:
                    item.Boolean = ProtoMapping.Boolean(feature);
                    break;
            }

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
        var list = response.Entitlements;
        if (snapshot is null)
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
                SetFallbackOneof(item, entries[i].Key, fallback, fallback.ShapeKind);
                list.Add(item);
            }

            return response;
        }

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

    /// <summary>
    /// The <c>ReloadEntitlements</c> answer (§4.8): the customer exists for entitlement purposes unless the
    /// upstream said otherwise; a customer without an active subscription still exists. No data: false.
    /// </summary>
    public static bool EntitledEntityExists(CustomerSnapshot? snapshot) =>
        snapshot is not null
        && snapshot.CustomerReason is null or AccessDeniedReason.NoActiveSubscription;

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
        var options = request.Options;
        var fallback = options?.Fallback is { } perCall
            ? FallbackValues.From(perCall)
            : FallbackValues.Resolve(fallbacks, request.FeatureId);
        var response = new GetEnumEntitlementResponse
        {
            HasAccess = fallback.HasAccess,
            IsFallback = true,
            AccessDeniedReason = reason,
            Entitlement = ProtoMapping.EnumFallback(request.FeatureId, fallback),
        };
        EchoRequestedValues(response, options?.RequestedValues);
        return response;
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
        switch (FallbackKind(options, fallback))
        {
            case FeatureKind.Numeric:
                response.Numeric = ProtoMapping.NumericFallback(featureId, fallback);
                break;
            case FeatureKind.Metered:
                response.Metered = ProtoMapping.MeteredFallback(featureId, fallback);
                break;
            case FeatureKind.Enum:
                response.Enum = ProtoMapping.EnumFallback(featureId, fallback);
                break;
            default:
                response.Boolean = ProtoMapping.BooleanFallback(featureId);
                break;
        }

        return response;
    }

    private static EntitlementV2 FeatureV2(
        CustomerSnapshot? snapshot, string featureId, GetEntitlementOptions? options, FallbackSet fallbacks, long nowMs)
    {
        if (snapshot is null)
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

            SetFallbackOneof(result, featureId, fallback, FallbackKind(options, fallback));
            return result;
        }

        var requestedUsage = options is { HasRequestedUsage: true } ? options.RequestedUsage : 0;
        if (!snapshot.TryGetFeature(featureId, out var entitlement))
        {
            var missing = new EntitlementV2 { AccessDeniedReason = AccessRules.MissingReason(snapshot) };
            SetFallbackOneof(missing, featureId, default, FallbackKind(options, default));
            return missing;
        }

        return EvaluatedFeatureV2(snapshot, entitlement, requestedUsage, options?.RequestedValues, nowMs);
    }

    private static EntitlementV2 CreditV2(CustomerSnapshot? snapshot, string currencyId, GetEntitlementOptions? options)
    {
        if (snapshot is null)
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

    private static EntitlementV2 UntargetedFallbackV2(GetEntitlementOptions? options) => new()
    {
        HasAccess = options?.Fallback?.HasAccess ?? false,
        IsFallback = true,
        AccessDeniedReason = AccessDeniedReason.Unknown,
    };

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

        switch (entitlement.Kind)
        {
            case FeatureKind.Numeric:
                result.Numeric = ProtoMapping.Numeric(entitlement);
                break;
            case FeatureKind.Metered:
                result.Metered = ProtoMapping.Metered(entitlement, usage);
                break;
            case FeatureKind.Enum:
                result.Enum = ProtoMapping.Enum(entitlement);
                break;
            default:
                result.Boolean = ProtoMapping.Boolean(entitlement);
                break;
        }

        return result;
    }

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

    private static Entitlement FallbackListEntitlement(string featureId, in FallbackValues fallback)
    {
        var item = new Entitlement();
        switch (fallback.ShapeKind)
        {
            case FeatureKind.Numeric:
                item.Numeric = ProtoMapping.NumericFallback(featureId, fallback);
                break;
            case FeatureKind.Metered:
                item.Metered = ProtoMapping.MeteredFallback(featureId, fallback);
                break;
            case FeatureKind.Enum:
                item.Enum = ProtoMapping.EnumFallback(featureId, fallback);
                break;
            default:
                item.Boolean = ProtoMapping.BooleanFallback(featureId);
                break;
        }

        return item;
    }

    private static void SetFallbackOneof(EntitlementV2 target, string featureId, in FallbackValues fallback, FeatureKind kind)
    {
        switch (kind)
        {
            case FeatureKind.Numeric:
                target.Numeric = ProtoMapping.NumericFallback(featureId, fallback);
                break;
            case FeatureKind.Metered:
                target.Metered = ProtoMapping.MeteredFallback(featureId, fallback);
                break;
            case FeatureKind.Enum:
                target.Enum = ProtoMapping.EnumFallback(featureId, fallback);
                break;
            default:
                target.Boolean = ProtoMapping.BooleanFallback(featureId);
                break;
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

    private static void EchoRequestedValues(GetEnumEntitlementResponse response, IReadOnlyList<string>? requestedValues)
    {
        if (requestedValues is { Count: > 0 })
        {
            ProtoMapping.AddAll(response.RequestedValues, requestedValues);
        }
    }
}
