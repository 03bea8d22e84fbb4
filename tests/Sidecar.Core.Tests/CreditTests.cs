using Sidecar.Core.Evaluation;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

/// <summary>Credit entitlements and credit-backed features (§4.5, DESIGN decision 1).</summary>
public class CreditTests
{
    private static EntitlementV2 CreditCheck(CreditGrant credit, double? requested = null)
    {
        var request = new GetEntitlementV2Request { CustomerId = "cust-1", CurrencyId = credit.CurrencyId };
        if (requested is { } r)
        {
            request.Options = new GetEntitlementOptions { RequestedUsage = r };
        }

        return EntitlementEvaluator.EntitlementV2(Snapshot([], [credit]), request, FallbackSet.Empty, Now).Entitlement;
    }

    [Fact]
    public void Credit_BalanceLeft_AllowsAndMapsEveryField()
    {
        var credit = Credit("ai-credits", 5000, 1200) with { Description = "Model calls" };

        var e = CreditCheck(credit);

        Assert.True(e.HasAccess);
        Assert.False(e.IsFallback);
        Assert.False(e.HasAccessDeniedReason);
        var c = e.Credit;
        Assert.Equal("ai-credits", c.Currency.CurrencyId);
        Assert.Equal("AI credits", c.Currency.DisplayName);
        Assert.Equal("Model calls", c.Currency.Description);
        Assert.Equal("credit", c.Currency.UnitSingular);
        Assert.Equal("credits", c.Currency.UnitPlural);
        Assert.Equal(5000, c.UsageLimit);
        Assert.Equal(1200, c.CurrentUsage);
        Assert.Equal(3800, c.Remaining);
        Assert.Equal(Ts("2026-12-01T00:00:00Z"), c.UsagePeriodEnd);
        Assert.False(c.HasSoftLimit);
    }

    [Fact]
    public void Credit_UnknownCurrencyDetails_EmptyDisplayNameAndAbsentOptionals()
    {
        var credit = new CreditGrant { CurrencyId = "c", UsageLimit = 10, CurrentUsage = 1 };

        var c = CreditCheck(credit).Credit;

        Assert.Equal(string.Empty, c.Currency.DisplayName);
        Assert.False(c.Currency.HasDescription);
        Assert.False(c.Currency.HasUnitSingular);
        Assert.False(c.Currency.HasUnitPlural);
        Assert.Null(c.UsagePeriodEnd);
    }

    [Theory]
    [InlineData(100, 100)]
    [InlineData(100, 130)]
    [InlineData(0, 0)]
    public void Credit_NothingRemaining_DeniesInsufficientCredits(double limit, double usage)
    {
        var e = CreditCheck(Credit("ai-credits", limit, usage));

        Assert.False(e.HasAccess);
        Assert.False(e.IsFallback);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, e.AccessDeniedReason);
        Assert.Equal(limit - usage, e.Credit.Remaining);
    }

    [Fact]
    public void Credit_RequestedExactlyRemaining_Allows()
    {
        Assert.True(CreditCheck(Credit("ai-credits", 100, 60), requested: 40).HasAccess);
    }

    [Fact]
    public void Credit_RequestedOverRemaining_Denies()
    {
        var e = CreditCheck(Credit("ai-credits", 100, 60), requested: 40.5);

        Assert.False(e.HasAccess);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, e.AccessDeniedReason);
    }

    [Fact]
    public void Credit_SoftLimit_AllowsWhenExhaustedAndOverRequested()
    {
        Assert.True(CreditCheck(Credit("ai-credits", 100, 150, softLimit: true)).HasAccess);
        Assert.True(CreditCheck(Credit("ai-credits", 100, 60, softLimit: true), requested: 1000).HasAccess);
    }

    [Fact]
    public void Credit_ServerReason_DeniesWithIt()
    {
        var e = CreditCheck(Credit("ai-credits", 100, 0) with { DeniedReason = AccessDeniedReason.Revoked });

        Assert.False(e.HasAccess);
        Assert.Equal(AccessDeniedReason.Revoked, e.AccessDeniedReason);
    }

    [Fact]
    public void Credit_NotGranted_DeniesNotFallback()
    {
        var e = EntitlementEvaluator.EntitlementV2(
            Snapshot(Boolean("f")), new GetEntitlementV2Request { CurrencyId = "ai-credits" }, FallbackSet.Empty, Now).Entitlement;

        Assert.False(e.HasAccess);
        Assert.False(e.IsFallback);
        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, e.AccessDeniedReason);
        Assert.Equal("ai-credits", e.Credit.Currency.CurrencyId);
        Assert.Equal(0, e.Credit.Remaining);
    }

    [Fact]
    public void Credit_NoData_DefaultFallback()
    {
        var e = EntitlementEvaluator.EntitlementV2(null, new GetEntitlementV2Request { CurrencyId = "ai-credits" }, FallbackSet.Empty, Now).Entitlement;

        Assert.False(e.HasAccess);
        Assert.True(e.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
        Assert.Equal("ai-credits", e.Credit.Currency.CurrencyId);
        Assert.Equal(0, e.Credit.UsageLimit);
        Assert.Equal(0, e.Credit.CurrentUsage);
    }

    [Fact]
    public void Credit_NoDataWithPerCallFallback_UsesItKeepingUnknown()
    {
        var request = new GetEntitlementV2Request
        {
            CurrencyId = "ai-credits",
            Options = new GetEntitlementOptions { Fallback = new GetEntitlementFallback { HasAccess = true, UsageLimit = 250 } },
        };

        var e = EntitlementEvaluator.EntitlementV2(null, request, FallbackSet.Empty, Now).Entitlement;

        Assert.True(e.HasAccess);
        Assert.True(e.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
        Assert.Equal(250, e.Credit.UsageLimit);
        Assert.Equal(250, e.Credit.Remaining);
    }

    [Fact]
    public void Credit_NoData_GlobalFeatureMapIsNotConsulted()
    {
        var global = FallbackSet.Parse("""{"ai-credits": {"hasAccess": true}}""");

        var e = EntitlementEvaluator.EntitlementV2(null, new GetEntitlementV2Request { CurrencyId = "ai-credits" }, global, Now).Entitlement;

        Assert.False(e.HasAccess);
    }

    // ---- Credit-backed features

    private static FeatureEntitlement Backed(FeatureEntitlement feature, double rate = 2) =>
        feature with { CreditCurrencyId = "ai-credits", CreditRateAmount = rate };

    private static GetBooleanEntitlementResponse BooleanCheck(CustomerSnapshot snapshot) =>
        EntitlementEvaluator.Boolean(snapshot, new GetBooleanEntitlementRequest { FeatureId = "f" }, FallbackSet.Empty, Now);

    private static GetMeteredEntitlementResponse MeteredCheck(CustomerSnapshot snapshot, double requested) =>
        EntitlementEvaluator.Metered(
            snapshot,
            new GetMeteredEntitlementRequest { FeatureId = "f", Options = new MeteredEntitlementOptions { RequestedUsage = requested } },
            FallbackSet.Empty,
            Now);

    [Fact]
    public void CreditBacked_BalanceLeft_Allows()
    {
        Assert.True(BooleanCheck(Snapshot([Backed(Boolean("f"))], [Credit("ai-credits", 100, 99)])).HasAccess);
    }

    [Fact]
    public void CreditBacked_BalanceExhausted_DeniesInsufficientCredits()
    {
        var response = BooleanCheck(Snapshot([Backed(Boolean("f"))], [Credit("ai-credits", 100, 100)]));

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, response.AccessDeniedReason);
    }

    [Fact]
    public void CreditBacked_RequestedUsageTimesRateOverRemaining_Denies()
    {
        var snapshot = Snapshot([Backed(Metered("f", null, 0, unlimited: true), rate: 2)], [Credit("ai-credits", 100, 85)]);

        var denied = MeteredCheck(snapshot, 8);
        var allowed = MeteredCheck(snapshot, 7.5);

        Assert.False(denied.HasAccess);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, denied.AccessDeniedReason);
        Assert.True(allowed.HasAccess);
    }

    [Fact]
    public void CreditBacked_FeatureServerReason_Wins()
    {
        var response = BooleanCheck(Snapshot(
            [Backed(Boolean("f")) with { DeniedReason = AccessDeniedReason.Revoked }],
            [Credit("ai-credits", 100, 100)]));

        Assert.Equal(AccessDeniedReason.Revoked, response.AccessDeniedReason);
    }

    [Fact]
    public void CreditBacked_FeatureOwnLimitExceeded_KeepsThatReason()
    {
        var snapshot = Snapshot([Backed(Metered("f", 10, 10))], [Credit("ai-credits", 100, 100)]);

        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, MeteredCheck(snapshot, 1).AccessDeniedReason);
    }

    [Fact]
    public void CreditBacked_CreditNotInSnapshot_Allows()
    {
        Assert.True(BooleanCheck(Snapshot([Backed(Boolean("f"))], [Credit("other", 1, 1)])).HasAccess);
    }

    [Fact]
    public void CreditBacked_CreditSoftLimit_AllowsWhenExhausted()
    {
        Assert.True(BooleanCheck(Snapshot([Backed(Boolean("f"))], [Credit("ai-credits", 100, 120, softLimit: true)])).HasAccess);
    }

    [Fact]
    public void CreditBacked_AppliesToEnumAndNumericToo()
    {
        var snapshot = Snapshot(
            [Backed(Enum("e", "a")) with { FeatureId = "e" }, Backed(Numeric("n", 3)) with { FeatureId = "n" }],
            [Credit("ai-credits", 10, 10)]);

        var enumResponse = EntitlementEvaluator.Enum(snapshot, new GetEnumEntitlementRequest { FeatureId = "e" }, FallbackSet.Empty, Now);
        var numericResponse = EntitlementEvaluator.Numeric(snapshot, new GetNumericEntitlementRequest { FeatureId = "n" }, FallbackSet.Empty, Now);

        Assert.Equal(AccessDeniedReason.InsufficientCredits, enumResponse.AccessDeniedReason);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, numericResponse.AccessDeniedReason);
    }

    [Fact]
    public void CreditBacked_InStateList_DeniedWhenExhausted()
    {
        var snapshot = Snapshot([Backed(Boolean("f"))], [Credit("ai-credits", 100, 100)]);

        var state = EntitlementEvaluator.EntitlementsStateV2(snapshot, new GetEntitlementsStateV2Request(), FallbackSet.Empty, Now);

        Assert.Equal(2, state.Entitlements.Count);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, state.Entitlements[0].AccessDeniedReason);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, state.Entitlements[1].AccessDeniedReason);
        Assert.Equal(EntitlementV2.EntitlementOneofCase.Credit, state.Entitlements[1].EntitlementCase);
    }
}
