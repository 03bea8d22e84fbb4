using Sidecar.Core.Evaluation;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

/// <summary>
/// The hit path allocates only the response messages: an evaluator call allocates exactly as many bytes as
/// building the same messages by hand (so no LINQ, closures, boxing or enumerators sneak in).
/// </summary>
public class AllocationTests
{
    private static readonly Model.CustomerSnapshot Plan = Snapshot(
        [Boolean("f-bool"), Metered("f-meter", 100, 10), Enum("f-enum", "a", "b")],
        [Credit("ai-credits", 100, 10)]);

    private static long AllocatedBy(Func<object> action)
    {
        // Warm up (JIT, static initialisers), then take the smallest of a few runs.
        for (var i = 0; i < 3; i++)
        {
            GC.KeepAlive(action());
        }

        var min = long.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var result = action();
            var after = GC.GetAllocatedBytesForCurrentThread();
            GC.KeepAlive(result);
            min = Math.Min(min, after - before);
        }

        return min;
    }

    private static EntitlementFeature FeatureOf(Model.FeatureEntitlement f)
    {
        var feature = new EntitlementFeature { Id = f.FeatureId, FeatureType = f.FeatureType, MeterType = f.MeterType, IsMetered = f.IsMetered };
        if (f.Units is not null)
        {
            feature.Units = f.Units;
        }

        if (f.UnitsPlural is not null)
        {
            feature.UnitsPlural = f.UnitsPlural;
        }

        return feature;
    }

    /// <summary>The metered message of f-meter: same fields set, so the same bytes, whatever their values.</summary>
    private static MeteredEntitlement MeteredOf(Model.FeatureEntitlement f)
    {
        var metered = new MeteredEntitlement
        {
            Feature = FeatureOf(f),
            UsageLimit = 100,
            CurrentUsage = 10,
            HasSoftLimit = false,
            ResetPeriod = EntitlementResetPeriod.Month,
            UsagePeriodAnchor = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1 },
            UsagePeriodStart = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1 },
            UsagePeriodEnd = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1 },
        };
#pragma warning disable CS0612, CS0618
        metered.NextResetDate = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1 };
#pragma warning restore CS0612, CS0618
        return metered;
    }

    [Fact]
    public void Boolean_Hit_AllocatesOnlyTheResponse()
    {
        var request = new GetBooleanEntitlementRequest { CustomerId = "cust-1", FeatureId = "f-bool" };
        Plan.TryGetFeature("f-bool", out var f);

        var evaluator = AllocatedBy(() => EntitlementEvaluator.Boolean(Plan, request, FallbackSet.Empty, Now));
        var byHand = AllocatedBy(() => new GetBooleanEntitlementResponse
        {
            HasAccess = true,
            Entitlement = new BooleanEntitlement { Feature = FeatureOf(f) },
        });

        Assert.Equal(byHand, evaluator);
    }

    [Fact]
    public void Metered_Hit_AllocatesOnlyTheResponse()
    {
        var request = new GetMeteredEntitlementRequest
        {
            CustomerId = "cust-1",
            FeatureId = "f-meter",
            Options = new MeteredEntitlementOptions { RequestedUsage = 5 },
        };
        Plan.TryGetFeature("f-meter", out var f);

        var evaluator = AllocatedBy(() => EntitlementEvaluator.Metered(Plan, request, FallbackSet.Empty, Now));
        var byHand = AllocatedBy(() => new GetMeteredEntitlementResponse { HasAccess = true, RequestedUsage = 5, Entitlement = MeteredOf(f) });

        Assert.Equal(byHand, evaluator);
    }

    [Fact]
    public void Generic_Hit_AllocatesOnlyTheResponse()
    {
        // The generic getter picks its oneof case through FeatureOneof's struct adapters: they must not box.
        var request = new GetEntitlementRequest
        {
            CustomerId = "cust-1",
            FeatureId = "f-meter",
            Options = new GetEntitlementOptions { RequestedUsage = 5 },
        };
        Plan.TryGetFeature("f-meter", out var f);

        var evaluator = AllocatedBy(() => EntitlementEvaluator.Entitlement(Plan, request, FallbackSet.Empty, Now));
        var byHand = AllocatedBy(() => new GetEntitlementResponse { HasAccess = true, Metered = MeteredOf(f) });

        Assert.Equal(byHand, evaluator);
    }

    [Fact]
    public void Enum_Hit_AllocatesOnlyTheResponse()
    {
        var request = new GetEnumEntitlementRequest
        {
            CustomerId = "cust-1",
            FeatureId = "f-enum",
            Options = new EnumEntitlementOptions { RequestedValues = { "b" } },
        };
        Plan.TryGetFeature("f-enum", out var f);

        var evaluator = AllocatedBy(() => EntitlementEvaluator.Enum(Plan, request, FallbackSet.Empty, Now));
        var byHand = AllocatedBy(() =>
        {
            var entitlement = new EnumEntitlement { Feature = FeatureOf(f) };
            entitlement.EnumValues.Add("a");
            entitlement.EnumValues.Add("b");
            var response = new GetEnumEntitlementResponse { HasAccess = true, Entitlement = entitlement };
            response.RequestedValues.Add("b");
            return response;
        });

        Assert.Equal(byHand, evaluator);
    }

    [Fact]
    public void CreditV2_Hit_AllocatesOnlyTheResponse()
    {
        var request = new GetEntitlementV2Request { CustomerId = "cust-1", CurrencyId = "ai-credits" };

        var evaluator = AllocatedBy(() => EntitlementEvaluator.EntitlementV2(Plan, request, FallbackSet.Empty, Now));
        var byHand = AllocatedBy(() => new GetEntitlementV2Response
        {
            Entitlement = new EntitlementV2
            {
                HasAccess = true,
                Credit = new CreditEntitlement
                {
                    Currency = new EntitlementCurrency { CurrencyId = "ai-credits", DisplayName = "AI credits", UnitSingular = "credit", UnitPlural = "credits" },
                    UsageLimit = 100,
                    CurrentUsage = 10,
                    Remaining = 90,
                    UsagePeriodEnd = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1 },
                },
            },
        });

        Assert.Equal(byHand, evaluator);
    }
}
