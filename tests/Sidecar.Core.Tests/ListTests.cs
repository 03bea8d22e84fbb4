using System.Text.Json;
using Sidecar.Core.Evaluation;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

/// <summary>GetEntitlements (legacy list) and GetEntitlementsStateV2 answered from real data.</summary>
public class ListTests
{
    private static readonly CustomerSnapshot Plan = Snapshot(
        [
            Boolean("f-bool"),
            Numeric("f-num", 5),
            Metered("f-meter", 100, 100) with { UsagePeriodEnd = Ms("2026-11-01T00:00:00Z") },
            Metered("f-full", 10, 11),
            Enum("f-enum", "a"),
            Boolean("f-revoked") with { DeniedReason = AccessDeniedReason.Revoked },
        ],
        [Credit("ai-credits", 100, 30), Credit("empty", 10, 10)]);

    [Fact]
    public void Entitlements_EveryFeatureInOrderAndTypedOneof_NoCredits()
    {
        var response = EntitlementEvaluator.Entitlements(Plan, new GetEntitlementsRequest { CustomerId = "cust-1" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccessDeniedReason);
        Assert.Equal(
            [
                Entitlement.EntitlementOneofCase.Boolean,
                Entitlement.EntitlementOneofCase.Numeric,
                Entitlement.EntitlementOneofCase.Metered,
                Entitlement.EntitlementOneofCase.Metered,
                Entitlement.EntitlementOneofCase.Enum,
                Entitlement.EntitlementOneofCase.Boolean,
            ],
            response.Entitlements.Select(e => e.EntitlementCase));
        Assert.Equal("f-bool", response.Entitlements[0].Boolean.Feature.Id);
        Assert.Equal(5, response.Entitlements[1].Numeric.Value);
        Assert.Equal(["a"], response.Entitlements[4].Enum.EnumValues);
    }

    [Fact]
    public void Entitlements_MeteredPeriodEnded_ReportsRolledOverUsage()
    {
        var response = EntitlementEvaluator.Entitlements(Plan, new GetEntitlementsRequest(), FallbackSet.Empty, Now);

        var metered = response.Entitlements[2].Metered;
        Assert.Equal(0, metered.CurrentUsage);
        Assert.Equal(Ts("2026-11-01T00:00:00Z"), metered.UsagePeriodStart);
        Assert.Equal(Ts("2026-12-01T00:00:00Z"), metered.UsagePeriodEnd);
        Assert.Equal(11, response.Entitlements[3].Metered.CurrentUsage);
    }

    [Fact]
    public void StateV2_FeaturesThenCredits_EachWithDecision()
    {
        var response = EntitlementEvaluator.EntitlementsStateV2(Plan, new GetEntitlementsStateV2Request { CustomerId = "cust-1" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccessDeniedReason);
        Assert.Equal(
            ["f-bool", "f-num", "f-meter", "f-full", "f-enum", "f-revoked", "ai-credits", "empty"],
            response.Entitlements.Select(FallbackPrecedenceTests.FeatureIdOf));
        Assert.Equal([true, true, true, false, true, false, true, false], response.Entitlements.Select(e => e.HasAccess));
        Assert.All(response.Entitlements, e => Assert.False(e.IsFallback));

        Assert.False(response.Entitlements[2].HasAccessDeniedReason);
        Assert.Equal(0, response.Entitlements[2].Metered.CurrentUsage);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, response.Entitlements[3].AccessDeniedReason);
        Assert.Equal(AccessDeniedReason.Revoked, response.Entitlements[5].AccessDeniedReason);
        Assert.Equal(70, response.Entitlements[6].Credit.Remaining);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, response.Entitlements[7].AccessDeniedReason);
    }

    [Fact]
    public void StateV2_EmptyPlanNoReason_EmptyListNoReason()
    {
        var response = EntitlementEvaluator.EntitlementsStateV2(Snapshot(), new GetEntitlementsStateV2Request(), FallbackSet.Parse("""{"f": {"hasAccess": true}}"""), Now);

        Assert.Empty(response.Entitlements);
        Assert.False(response.HasAccessDeniedReason);
    }

    /// <summary>An Edge state listing f-seats twice (limit 5, then 10) and the credit twice (limit 50, then 100).</summary>
    private static CustomerSnapshot ListedTwice() => EntitlementsStateMapper.ToSnapshot(
        Key,
        JsonSerializer.Deserialize(
            """
            {
              "entitlementsV2": [
                { "__typename": "FeatureEntitlement", "usageLimit": 5, "feature": { "refId": "f-seats", "featureType": "NUMBER", "meterType": "None" } },
                { "__typename": "CreditEntitlement", "usageLimit": 50, "currentUsage": 0, "currency": { "currencyId": "ai-credits" } },
                { "__typename": "FeatureEntitlement", "feature": { "refId": "f-bool", "featureType": "BOOLEAN" } },
                { "__typename": "FeatureEntitlement", "usageLimit": 10, "feature": { "refId": "f-seats", "featureType": "NUMBER", "meterType": "None" } },
                { "__typename": "CreditEntitlement", "usageLimit": 100, "currentUsage": 0, "currency": { "currencyId": "ai-credits" } }
              ]
            }
            """,
            CoreJsonContext.Default.EntitlementsStateDto)!,
        Now);

    [Fact]
    public void Entitlements_FeatureListedTwice_ListsOnlyTheLast()
    {
        var snapshot = ListedTwice();

        var response = EntitlementEvaluator.Entitlements(snapshot, new GetEntitlementsRequest(), FallbackSet.Empty, Now);

        // Stigg keys the list by feature id: one entry, the last occurrence, at its own position.
        Assert.Equal(["f-bool", "f-seats"], response.Entitlements.Select(e => e.EntitlementCase == Entitlement.EntitlementOneofCase.Boolean ? e.Boolean.Feature.Id : e.Numeric.Feature.Id));
        Assert.Equal(10, response.Entitlements[1].Numeric.Value);
        var typed = EntitlementEvaluator.Numeric(snapshot, new GetNumericEntitlementRequest { FeatureId = "f-seats" }, FallbackSet.Empty, Now);
        Assert.Equal(typed.Entitlement, response.Entitlements[1].Numeric);
    }

    [Fact]
    public void StateV2_FeatureAndCreditListedTwice_ListsTheLastAsTypedGettersSee()
    {
        var snapshot = ListedTwice();

        var response = EntitlementEvaluator.EntitlementsStateV2(snapshot, new GetEntitlementsStateV2Request(), FallbackSet.Empty, Now);

        Assert.Equal(["f-bool", "f-seats", "ai-credits"], response.Entitlements.Select(FallbackPrecedenceTests.FeatureIdOf));
        Assert.Equal(10, response.Entitlements[1].Numeric.Value);
        Assert.Equal(100, response.Entitlements[2].Credit.UsageLimit);
        var byCurrency = EntitlementEvaluator.EntitlementV2(snapshot, new GetEntitlementV2Request { CurrencyId = "ai-credits" }, FallbackSet.Empty, Now);
        Assert.Equal(byCurrency.Entitlement, response.Entitlements[2]);
    }

    [Fact]
    public void Snapshot_FeatureListedTwice_KeepsTheLastForListAndLookup()
    {
        var first = Numeric("f-seats", 5);
        var last = Numeric("f-seats", 10);

        var snapshot = Snapshot(first, Boolean("f-bool"), last, last);

        Assert.Equal(["f-bool", "f-seats"], snapshot.Features.Select(f => f.FeatureId));
        Assert.Same(last, snapshot.Features[1]);
        Assert.True(snapshot.TryGetFeature("f-seats", out var found));
        Assert.Same(last, found);
    }

    /// <summary>Long lists are indexed, short ones scanned: both keep the last occurrence of a repeated id, and miss alike.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(CustomerSnapshot.MaxScanned)]
    [InlineData(CustomerSnapshot.MaxScanned + 1)]
    [InlineData(40)]
    public void Snapshot_RepeatedIdsAtAnyLength_KeepTheLastForListAndLookup(int distinct)
    {
        var features = Enumerable.Range(0, distinct).Select(i => Numeric("f-" + i, i)).ToList();
        var credits = Enumerable.Range(0, distinct).Select(i => Credit("c-" + i, i, 0)).ToList();
        var lastFeature = Numeric("f-0", 1000);
        var lastCredit = Credit("c-0", 1000, 0);
        features.Add(lastFeature);
        credits.Add(lastCredit);

        var snapshot = new CustomerSnapshot(Key, null, features, credits, 1, 1);

        Assert.Equal(Enumerable.Range(1, distinct - 1).Select(i => "f-" + i).Append("f-0"), snapshot.Features.Select(f => f.FeatureId));
        Assert.Equal(Enumerable.Range(1, distinct - 1).Select(i => "c-" + i).Append("c-0"), snapshot.Credits.Select(c => c.CurrencyId));
        Assert.True(snapshot.TryGetFeature(new string("f-0".ToCharArray()), out var feature));
        Assert.Same(lastFeature, feature);
        Assert.True(snapshot.TryGetCredit(new string("c-0".ToCharArray()), out var credit));
        Assert.Same(lastCredit, credit);
        Assert.True(snapshot.TryGetFeature("f-" + (distinct - 1), out feature));
        Assert.Equal(distinct - 1, feature.UsageLimit);
        Assert.False(snapshot.TryGetFeature("f-" + distinct, out _));
        Assert.False(snapshot.TryGetFeature("F-0", out _)); // ordinal
        Assert.False(snapshot.TryGetCredit("c-" + distinct, out _));
        Assert.False(snapshot.TryGetCredit("f-0", out _));
    }

    [Fact]
    public void ForCustomer_AnotherKey_SameEntitlementsAsMappingItForThatKey()
    {
        var features = Enumerable.Range(0, 12).Select(i => Numeric("f-" + i, i)).ToArray();
        var credits = new[] { Credit("c", 10, 1) };
        var first = new CustomerSnapshot(new CustomerKey("a", null), AccessDeniedReason.Revoked, features, credits, 5, 6);
        var other = new CustomerKey("another-customer", "resource-1");

        var moved = first.ForCustomer(other);
        var mapped = new CustomerSnapshot(other, AccessDeniedReason.Revoked, features, credits, 5, 6);

        Assert.Equal(other, moved.Key);
        Assert.Equal(mapped.ApproxBytes, moved.ApproxBytes);
        Assert.Equal((mapped.CustomerReason, mapped.EntitlementsTimestamp, mapped.FetchedAt, mapped.EarliestValidUntil),
            (moved.CustomerReason, moved.EntitlementsTimestamp, moved.FetchedAt, moved.EarliestValidUntil));
        Assert.Equal(mapped.Features, moved.Features);
        Assert.Equal(mapped.Credits, moved.Credits);
        Assert.True(moved.TryGetFeature("f-11", out var f) && f.UsageLimit == 11);
        Assert.True(moved.TryGetCredit("c", out _));
        Assert.Equal(new CustomerKey("a", null), first.Key);
    }
}
