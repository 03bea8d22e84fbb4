using Sidecar.Core.Evaluation;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

/// <summary>The generic GetEntitlement and GetEntitlementV2 answered from real data.</summary>
public class GenericAndV2Tests
{
    private static readonly Model.CustomerSnapshot Plan = Snapshot(
        [Boolean("f-bool"), Numeric("f-num", 5), Metered("f-meter", 100, 60), Enum("f-enum", "a", "b")],
        [Credit("ai-credits", 1000, 400)]);

    private static GetEntitlementResponse Generic(string featureId, GetEntitlementOptions? options = null, FallbackSet? fallbacks = null)
    {
        var request = new GetEntitlementRequest { CustomerId = "cust-1", FeatureId = featureId };
        if (options is not null)
        {
            request.Options = options;
        }

        return EntitlementEvaluator.Entitlement(Plan, request, fallbacks ?? FallbackSet.Empty, Now);
    }

    private static EntitlementV2 V2(string? featureId, string? currencyId, GetEntitlementOptions? options = null, Model.CustomerSnapshot? snapshot = null)
    {
        var request = new GetEntitlementV2Request { CustomerId = "cust-1" };
        if (featureId is not null)
        {
            request.FeatureId = featureId;
        }

        if (currencyId is not null)
        {
            request.CurrencyId = currencyId;
        }

        if (options is not null)
        {
            request.Options = options;
        }

        return EntitlementEvaluator.EntitlementV2(snapshot ?? Plan, request, FallbackSet.Empty, Now).Entitlement;
    }

    [Fact]
    public void Generic_EachType_AnsweredInMatchingOneof()
    {
        Assert.Equal(GetEntitlementResponse.EntitlementOneofCase.Boolean, Generic("f-bool").EntitlementCase);
        Assert.Equal(5, Generic("f-num").Numeric.Value);
        Assert.Equal(60, Generic("f-meter").Metered.CurrentUsage);
        Assert.Equal(["a", "b"], Generic("f-enum").Enum.EnumValues);
        Assert.All(new[] { "f-bool", "f-num", "f-meter", "f-enum" }, id =>
        {
            var r = Generic(id);
            Assert.True(r.HasAccess);
            Assert.False(r.IsFallback);
            Assert.False(r.HasAccessDeniedReason);
        });
    }

    [Fact]
    public void Generic_RequestedUsageOverLimit_Denies()
    {
        var response = Generic("f-meter", new GetEntitlementOptions { RequestedUsage = 41 });

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, response.AccessDeniedReason);
    }

    [Fact]
    public void Generic_RequestedUsageExactlyAtLimit_Allows()
    {
        Assert.True(Generic("f-meter", new GetEntitlementOptions { RequestedUsage = 40 }).HasAccess);
    }

    [Fact]
    public void Generic_RequestedValuesMismatch_Denies()
    {
        var response = Generic("f-enum", new GetEntitlementOptions { RequestedValues = { "a", "c" } });

        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedValuesMismatch, response.AccessDeniedReason);
    }

    [Fact]
    public void Generic_NotInPlan_FallbackWithNoFeatureEntitlementReason()
    {
        var global = FallbackSet.Parse("""{"f-missing": {"hasAccess": true, "value": 3}}""");

        var response = Generic("f-missing", fallbacks: global);

        Assert.True(response.IsFallback);
        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, response.AccessDeniedReason);
        Assert.Equal(3, response.Numeric.Value);
        Assert.Equal("f-missing", response.Numeric.Feature.Id);
    }

    [Fact]
    public void Generic_ServerReason_Denies()
    {
        var snapshot = Snapshot(Boolean("f") with { DeniedReason = AccessDeniedReason.Revoked });

        var response = EntitlementEvaluator.Entitlement(snapshot, new GetEntitlementRequest { FeatureId = "f" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.Revoked, response.AccessDeniedReason);
    }

    [Fact]
    public void Generic_MeteredPeriodEnded_ReportsRolledOver()
    {
        var snapshot = Snapshot(Metered("f", 10, 10) with { UsagePeriodEnd = Ms("2026-11-01T00:00:00Z") });

        var response = EntitlementEvaluator.Entitlement(
            snapshot, new GetEntitlementRequest { FeatureId = "f", Options = new GetEntitlementOptions { RequestedUsage = 10 } }, FallbackSet.Empty, Now);

        Assert.True(response.HasAccess);
        Assert.Equal(0, response.Metered.CurrentUsage);
        Assert.Equal(Ts("2026-12-01T00:00:00Z"), response.Metered.UsagePeriodEnd);
    }

    [Fact]
    public void V2_Feature_EachTypeInMatchingOneof()
    {
        Assert.Equal(EntitlementV2.EntitlementOneofCase.Boolean, V2("f-bool", null).EntitlementCase);
        Assert.Equal(5, V2("f-num", null).Numeric.Value);
        Assert.Equal(60, V2("f-meter", null).Metered.CurrentUsage);
        Assert.Equal(["a", "b"], V2("f-enum", null).Enum.EnumValues);
        Assert.True(V2("f-meter", null).HasAccess);
        Assert.False(V2("f-meter", null).IsFallback);
    }

    [Fact]
    public void V2_Feature_RequestedUsageAndValuesApply()
    {
        var over = V2("f-meter", null, new GetEntitlementOptions { RequestedUsage = 41 });
        var mismatch = V2("f-enum", null, new GetEntitlementOptions { RequestedValues = { "z" } });

        Assert.False(over.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, over.AccessDeniedReason);
        Assert.False(mismatch.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedValuesMismatch, mismatch.AccessDeniedReason);
    }

    [Fact]
    public void V2_Feature_NotInPlan_DeniesNotFallback()
    {
        var e = V2("f-missing", null);

        Assert.False(e.HasAccess);
        Assert.False(e.IsFallback);
        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, e.AccessDeniedReason);
        Assert.Equal("f-missing", e.Boolean.Feature.Id);
    }

    [Fact]
    public void V2_Feature_NotInPlanWithRequestedUsage_EmptyMeteredShape()
    {
        var e = V2("f-missing", null, new GetEntitlementOptions { RequestedUsage = 1 });

        Assert.Equal(EntitlementV2.EntitlementOneofCase.Metered, e.EntitlementCase);
        Assert.Equal("f-missing", e.Metered.Feature.Id);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", "")]
    [InlineData("f-bool", "ai-credits")]
    public void V2_BothOrNeitherTarget_Fallback(string? featureId, string? currencyId)
    {
        var e = V2(featureId, currencyId);

        Assert.False(e.HasAccess);
        Assert.True(e.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
        Assert.Equal(EntitlementV2.EntitlementOneofCase.None, e.EntitlementCase);
    }

    [Fact]
    public void V2_BothTargetsWithPerCallFallback_UsesIt()
    {
        var e = V2("f-bool", "ai-credits", new GetEntitlementOptions { Fallback = new GetEntitlementFallback { HasAccess = true } });

        Assert.True(e.HasAccess);
        Assert.True(e.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
    }
}
