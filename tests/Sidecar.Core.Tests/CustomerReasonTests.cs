using Sidecar.Core.Evaluation;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

/// <summary>Customer-level reasons from the entitlements state (DESIGN decision 1, §4.8).</summary>
public class CustomerReasonTests
{
    public static TheoryData<AccessDeniedReason> Reasons => new()
    {
        AccessDeniedReason.CustomerNotFound,
        AccessDeniedReason.NoActiveSubscription,
        AccessDeniedReason.CustomerIsArchived,
    };

    private static readonly FallbackSet GrantEverything = FallbackSet.Parse("""{"f": {"hasAccess": true}}""");

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Boolean_MissingWithCustomerReason_DeniesWithItNotFallback(AccessDeniedReason reason)
    {
        var response = EntitlementEvaluator.Boolean(CustomerLevel(reason), new GetBooleanEntitlementRequest { FeatureId = "f" }, GrantEverything, Now);

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(reason, response.AccessDeniedReason);
        Assert.Equal("f", response.Entitlement.Feature.Id);
    }

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Numeric_MissingWithCustomerReason_DeniesWithIt(AccessDeniedReason reason)
    {
        var response = EntitlementEvaluator.Numeric(CustomerLevel(reason), new GetNumericEntitlementRequest { FeatureId = "f" }, GrantEverything, Now);

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(reason, response.AccessDeniedReason);
    }

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Metered_MissingWithCustomerReason_DeniesWithIt(AccessDeniedReason reason)
    {
        var request = new GetMeteredEntitlementRequest { FeatureId = "f", Options = new MeteredEntitlementOptions { RequestedUsage = 1 } };

        var response = EntitlementEvaluator.Metered(CustomerLevel(reason), request, GrantEverything, Now);

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(reason, response.AccessDeniedReason);
        Assert.Equal(1, response.RequestedUsage);
    }

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Enum_MissingWithCustomerReason_DeniesWithIt(AccessDeniedReason reason)
    {
        var response = EntitlementEvaluator.Enum(CustomerLevel(reason), new GetEnumEntitlementRequest { FeatureId = "f" }, GrantEverything, Now);

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(reason, response.AccessDeniedReason);
    }

    [Theory]
    [MemberData(nameof(Reasons))]
    public void V2Feature_MissingWithCustomerReason_DeniesWithItNotFallback(AccessDeniedReason reason)
    {
        var e = EntitlementEvaluator.EntitlementV2(
            CustomerLevel(reason), new GetEntitlementV2Request { FeatureId = "f" }, GrantEverything, Now).Entitlement;

        Assert.False(e.HasAccess);
        Assert.False(e.IsFallback);
        Assert.Equal(reason, e.AccessDeniedReason);
        Assert.Equal("f", e.Boolean.Feature.Id);
    }

    [Theory]
    [MemberData(nameof(Reasons))]
    public void V2Credit_MissingWithCustomerReason_DeniesWithIt(AccessDeniedReason reason)
    {
        var e = EntitlementEvaluator.EntitlementV2(
            CustomerLevel(reason), new GetEntitlementV2Request { CurrencyId = "ai-credits" }, GrantEverything, Now).Entitlement;

        Assert.False(e.HasAccess);
        Assert.False(e.IsFallback);
        Assert.Equal(reason, e.AccessDeniedReason);
        Assert.Equal("ai-credits", e.Credit.Currency.CurrencyId);
    }

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Generic_MissingWithCustomerReason_FallbackCarryingTheReason(AccessDeniedReason reason)
    {
        var response = EntitlementEvaluator.Entitlement(CustomerLevel(reason), new GetEntitlementRequest { FeatureId = "f" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccess);
        Assert.True(response.IsFallback);
        Assert.Equal(reason, response.AccessDeniedReason);
    }

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Lists_CarryCustomerReasonAtTopLevel(AccessDeniedReason reason)
    {
        var state = EntitlementEvaluator.EntitlementsStateV2(CustomerLevel(reason), new GetEntitlementsStateV2Request(), GrantEverything, Now);
        var legacy = EntitlementEvaluator.Entitlements(CustomerLevel(reason), new GetEntitlementsRequest(), GrantEverything, Now);

        Assert.Equal(reason, state.AccessDeniedReason);
        Assert.Empty(state.Entitlements);
        Assert.Equal(reason, legacy.AccessDeniedReason);
        Assert.Empty(legacy.Entitlements);
    }

    [Fact]
    public void CustomerReason_EntitlementPresent_EvaluatedNormally()
    {
        var snapshot = Snapshot([Boolean("f")], [], AccessDeniedReason.NoActiveSubscription);

        var response = EntitlementEvaluator.Boolean(snapshot, new GetBooleanEntitlementRequest { FeatureId = "f" }, FallbackSet.Empty, Now);

        Assert.True(response.HasAccess);
        Assert.False(response.HasAccessDeniedReason);
    }

    [Fact]
    public void NoCustomerReason_EmptyPlan_NoFeatureEntitlementInSubscription()
    {
        var response = EntitlementEvaluator.Boolean(Snapshot(), new GetBooleanEntitlementRequest { FeatureId = "f" }, GrantEverything, Now);

        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, response.AccessDeniedReason);
        Assert.False(response.IsFallback);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(AccessDeniedReason.NoActiveSubscription, true)]
    [InlineData(AccessDeniedReason.CustomerNotFound, false)]
    [InlineData(AccessDeniedReason.CustomerIsArchived, false)]
    public void EntitledEntityExists_ByCustomerReason(AccessDeniedReason? reason, bool expected)
    {
        var snapshot = reason is { } r ? CustomerLevel(r) : Snapshot(Boolean("f"));

        Assert.Equal(expected, EntitlementEvaluator.EntitledEntityExists(snapshot));
    }
}
