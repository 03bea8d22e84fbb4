using Sidecar.Core.Evaluation;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

/// <summary>The four typed getters answered from real data (§4.2, §4.3).</summary>
public class TypedGetterTests
{
    private static readonly FallbackSet GlobalGrants = FallbackSet.Parse("""
        {
          "f-bool": { "hasAccess": true },
          "f-num": { "hasAccess": true, "value": 7 },
          "f-meter": { "hasAccess": true, "usageLimit": 50 },
          "f-enum": { "hasAccess": true, "enumValues": ["x"] }
        }
        """);

    private static GetBooleanEntitlementResponse Bool(Model.CustomerSnapshot snapshot, string featureId, FallbackSet? fallbacks = null) =>
        EntitlementEvaluator.Boolean(snapshot, new GetBooleanEntitlementRequest { CustomerId = "cust-1", FeatureId = featureId }, fallbacks ?? FallbackSet.Empty, Now);

    private static GetNumericEntitlementResponse Num(Model.CustomerSnapshot snapshot, string featureId, FallbackSet? fallbacks = null) =>
        EntitlementEvaluator.Numeric(snapshot, new GetNumericEntitlementRequest { CustomerId = "cust-1", FeatureId = featureId }, fallbacks ?? FallbackSet.Empty, Now);

    private static GetMeteredEntitlementResponse Meter(Model.CustomerSnapshot snapshot, string featureId, double? requested = null, FallbackSet? fallbacks = null, long? now = null)
    {
        var request = new GetMeteredEntitlementRequest { CustomerId = "cust-1", FeatureId = featureId };
        if (requested is { } r)
        {
            request.Options = new MeteredEntitlementOptions { RequestedUsage = r };
        }

        return EntitlementEvaluator.Metered(snapshot, request, fallbacks ?? FallbackSet.Empty, now ?? Now);
    }

    private static GetEnumEntitlementResponse Pick(Model.CustomerSnapshot snapshot, string featureId, params string[] requested)
    {
        var request = new GetEnumEntitlementRequest { CustomerId = "cust-1", FeatureId = featureId, Options = new EnumEntitlementOptions() };
        request.Options.RequestedValues.Add(requested);
        return EntitlementEvaluator.Enum(snapshot, request, FallbackSet.Empty, Now);
    }

    // ---- Boolean

    [Fact]
    public void Boolean_Entitled_AllowsAndMapsFeature()
    {
        var response = Bool(Snapshot(Boolean("f-bool")), "f-bool");

        Assert.True(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.False(response.HasAccessDeniedReason);
        var feature = response.Entitlement.Feature;
        Assert.Equal("f-bool", feature.Id);
        Assert.Equal(FeatureType.Boolean, feature.FeatureType);
        Assert.Equal(MeterType.Unspecified, feature.MeterType);
        Assert.False(feature.IsMetered);
        Assert.False(feature.HasUnits);
        Assert.False(feature.HasUnitsPlural);
    }

    [Fact]
    public void Boolean_NotInPlan_DeniesNoFeatureEntitlementNotFallback()
    {
        var response = Bool(Snapshot(Boolean("other")), "f-bool", GlobalGrants);

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, response.AccessDeniedReason);
        Assert.Equal("f-bool", response.Entitlement.Feature.Id);
    }

    [Theory]
    [InlineData(AccessDeniedReason.Revoked)]
    [InlineData(AccessDeniedReason.BudgetExceeded)]
    [InlineData(AccessDeniedReason.InsufficientCredits)]
    public void Boolean_ServerReason_DeniesWithIt(AccessDeniedReason reason)
    {
        var response = Bool(Snapshot(Boolean("f-bool") with { DeniedReason = reason }), "f-bool");

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(reason, response.AccessDeniedReason);
        Assert.Equal("f-bool", response.Entitlement.Feature.Id);
    }

    [Fact]
    public void Boolean_OnNumericFeature_FallbackWithTypeMismatch()
    {
        var response = Bool(Snapshot(Numeric("f-bool", 3)), "f-bool", GlobalGrants);

        Assert.True(response.IsFallback);
        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.FeatureTypeMismatch, response.AccessDeniedReason);
    }

    [Fact]
    public void Boolean_OnNumericFeature_NoFallback_DeniedWithTypeMismatch()
    {
        var response = Bool(Snapshot(Numeric("f-bool", 3)), "f-bool");

        Assert.True(response.IsFallback);
        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.FeatureTypeMismatch, response.AccessDeniedReason);
    }

    // ---- Numeric

    [Fact]
    public void Numeric_Entitled_ValueIsLimitAndFeatureMapped()
    {
        var response = Num(Snapshot(Numeric("f-num", 25)), "f-num");

        Assert.True(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.False(response.HasAccessDeniedReason);
        Assert.True(response.Entitlement.HasValue);
        Assert.Equal(25, response.Entitlement.Value);
        Assert.False(response.Entitlement.IsUnlimited);
        var feature = response.Entitlement.Feature;
        Assert.Equal(FeatureType.Number, feature.FeatureType);
        Assert.Equal(MeterType.None, feature.MeterType);
        Assert.False(feature.IsMetered);
        Assert.Equal("seat", feature.Units);
        Assert.Equal("seats", feature.UnitsPlural);
    }

    [Fact]
    public void Numeric_FractionalLimit_TruncatesToInt()
    {
        Assert.Equal(25, Num(Snapshot(Numeric("f-num", 25.9)), "f-num").Entitlement.Value);
    }

    [Fact]
    public void Numeric_NullLimit_ValueAbsent()
    {
        var response = Num(Snapshot(Numeric("f-num", null)), "f-num");

        Assert.True(response.HasAccess);
        Assert.False(response.Entitlement.HasValue);
    }

    [Fact]
    public void Numeric_Unlimited_ReportsUnlimited()
    {
        var response = Num(Snapshot(Numeric("f-num", null, unlimited: true)), "f-num");

        Assert.True(response.HasAccess);
        Assert.True(response.Entitlement.IsUnlimited);
    }

    [Fact]
    public void Numeric_NumberWithoutMeterType_IsNumeric()
    {
        var response = Num(Snapshot(Numeric("f-num", 4) with { MeterType = MeterType.Unspecified }), "f-num");

        Assert.False(response.IsFallback);
        Assert.Equal(4, response.Entitlement.Value);
    }

    [Fact]
    public void Numeric_OnMeteredFeature_FallbackWithTypeMismatch()
    {
        var response = Num(Snapshot(Metered("f-num", 10, 1)), "f-num", GlobalGrants);

        Assert.True(response.IsFallback);
        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.FeatureTypeMismatch, response.AccessDeniedReason);
        Assert.Equal(7, response.Entitlement.Value);
    }

    [Fact]
    public void Numeric_NotInPlan_DeniesNotFallbackWithEmptyEntitlement()
    {
        var response = Num(Snapshot(), "f-num");

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, response.AccessDeniedReason);
        Assert.Equal("f-num", response.Entitlement.Feature.Id);
        Assert.False(response.Entitlement.HasValue);
        Assert.False(response.Entitlement.IsUnlimited);
    }

    // ---- Metered

    [Fact]
    public void Metered_UnderLimit_AllowsAndMapsEveryField()
    {
        var response = Meter(Snapshot(Metered("f-meter", 1000, 250)), "f-meter");

        Assert.True(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.False(response.HasAccessDeniedReason);
        Assert.Equal(0, response.RequestedUsage);
        var m = response.Entitlement;
        Assert.True(m.HasUsageLimit);
        Assert.Equal(1000, m.UsageLimit);
        Assert.Equal(250, m.CurrentUsage);
        Assert.False(m.IsUnlimited);
        Assert.True(m.HasHasSoftLimit);
        Assert.False(m.HasSoftLimit);
        Assert.Equal(EntitlementResetPeriod.Month, m.ResetPeriod);
        Assert.Equal(Ts("2026-01-01T00:00:00Z"), m.UsagePeriodAnchor);
        Assert.Equal(Ts("2026-11-01T00:00:00Z"), m.UsagePeriodStart);
        Assert.Equal(Ts("2026-12-01T00:00:00Z"), m.UsagePeriodEnd);
#pragma warning disable CS0612, CS0618
        Assert.Equal(m.UsagePeriodEnd, m.NextResetDate);
        Assert.NotSame(m.UsagePeriodEnd, m.NextResetDate);
#pragma warning restore CS0612, CS0618
        var feature = m.Feature;
        Assert.Equal("f-meter", feature.Id);
        Assert.Equal(FeatureType.Number, feature.FeatureType);
        Assert.Equal(MeterType.Incremental, feature.MeterType);
        Assert.True(feature.IsMetered);
        Assert.Equal("call", feature.Units);
        Assert.Equal("calls", feature.UnitsPlural);
    }

    [Fact]
    public void Metered_Fluctuating_IsMetered()
    {
        var response = Meter(Snapshot(Metered("f-meter", 10, 3) with { MeterType = MeterType.Fluctuating }), "f-meter");

        Assert.False(response.IsFallback);
        Assert.Equal(MeterType.Fluctuating, response.Entitlement.Feature.MeterType);
        Assert.True(response.Entitlement.Feature.IsMetered);
    }

    [Fact]
    public void Metered_RequestedUsageExactlyReachesLimit_Allows()
    {
        var response = Meter(Snapshot(Metered("f-meter", 100, 90)), "f-meter", requested: 10);

        Assert.True(response.HasAccess);
        Assert.Equal(10, response.RequestedUsage);
    }

    [Fact]
    public void Metered_RequestedUsageOverLimit_DeniesExceedingLimit()
    {
        var response = Meter(Snapshot(Metered("f-meter", 100, 90)), "f-meter", requested: 11);

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, response.AccessDeniedReason);
        Assert.Equal(11, response.RequestedUsage);
        Assert.Equal(90, response.Entitlement.CurrentUsage);
    }

    [Fact]
    public void Metered_AtLimitWithDefaultRequestedUsage_StillAllows()
    {
        Assert.True(Meter(Snapshot(Metered("f-meter", 100, 100)), "f-meter").HasAccess);
    }

    [Fact]
    public void Metered_AtLimitRequestingOne_Denies()
    {
        var response = Meter(Snapshot(Metered("f-meter", 100, 100)), "f-meter", requested: 1);

        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, response.AccessDeniedReason);
    }

    [Fact]
    public void Metered_OverLimitWithDefaultRequestedUsage_Denies()
    {
        var response = Meter(Snapshot(Metered("f-meter", 100, 101)), "f-meter");

        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, response.AccessDeniedReason);
    }

    [Fact]
    public void Metered_NullLimit_TreatedAsZeroAndNotReported()
    {
        var snapshot = Snapshot(Metered("f-meter", null, 0));

        var idle = Meter(snapshot, "f-meter");
        var asking = Meter(snapshot, "f-meter", requested: 1);

        Assert.True(idle.HasAccess);
        Assert.False(idle.Entitlement.HasUsageLimit);
        Assert.False(asking.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, asking.AccessDeniedReason);
    }

    [Fact]
    public void Metered_Unlimited_AllowsAnyUsage()
    {
        var response = Meter(Snapshot(Metered("f-meter", null, 1e9, unlimited: true)), "f-meter", requested: 1e6);

        Assert.True(response.HasAccess);
        Assert.True(response.Entitlement.IsUnlimited);
        Assert.False(response.Entitlement.HasUsageLimit);
    }

    [Fact]
    public void Metered_SoftLimit_AllowsOverLimit()
    {
        var response = Meter(Snapshot(Metered("f-meter", 100, 150, softLimit: true)), "f-meter", requested: 10);

        Assert.True(response.HasAccess);
        Assert.True(response.Entitlement.HasSoftLimit);
    }

    [Fact]
    public void Metered_ServerReason_WinsOverFreeCapacity()
    {
        var response = Meter(Snapshot(Metered("f-meter", 100, 0) with { DeniedReason = AccessDeniedReason.BudgetExceeded }), "f-meter");

        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.BudgetExceeded, response.AccessDeniedReason);
    }

    [Fact]
    public void Metered_PeriodEnded_EvaluatesAndReportsRolledOverUsage()
    {
        var exhausted = Metered("f-meter", 100, 100) with
        {
            UsagePeriodStart = Ms("2026-09-01T00:00:00Z"),
            UsagePeriodEnd = Ms("2026-10-01T00:00:00Z"),
        };

        var response = Meter(Snapshot(exhausted), "f-meter", requested: 100);

        Assert.True(response.HasAccess);
        Assert.Equal(0, response.Entitlement.CurrentUsage);
        Assert.Equal(Ts("2026-11-01T00:00:00Z"), response.Entitlement.UsagePeriodStart);
        Assert.Equal(Ts("2026-12-01T00:00:00Z"), response.Entitlement.UsagePeriodEnd);
        Assert.Equal(Ts("2026-01-01T00:00:00Z"), response.Entitlement.UsagePeriodAnchor);
    }

    [Fact]
    public void Metered_PeriodEndedWithoutAnchor_ZeroUsageAndNoDates()
    {
        var exhausted = Metered("f-meter", 100, 100) with { UsagePeriodAnchor = null, UsagePeriodEnd = Ms("2026-10-01T00:00:00Z") };

        var response = Meter(Snapshot(exhausted), "f-meter", requested: 1);

        Assert.True(response.HasAccess);
        Assert.Equal(0, response.Entitlement.CurrentUsage);
        Assert.Null(response.Entitlement.UsagePeriodStart);
        Assert.Null(response.Entitlement.UsagePeriodEnd);
        Assert.Null(response.Entitlement.UsagePeriodAnchor);
    }

    [Fact]
    public void Metered_OnBooleanFeature_FallbackWithTypeMismatch()
    {
        var response = Meter(Snapshot(Boolean("f-meter")), "f-meter", requested: 3, fallbacks: GlobalGrants);

        Assert.True(response.IsFallback);
        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.FeatureTypeMismatch, response.AccessDeniedReason);
        Assert.Equal(50, response.Entitlement.UsageLimit);
        Assert.Equal(3, response.RequestedUsage);
    }

    [Fact]
    public void Metered_OnNumericFeature_FallbackWithTypeMismatch()
    {
        var response = Meter(Snapshot(Numeric("f-meter", 10)), "f-meter");

        Assert.True(response.IsFallback);
        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.FeatureTypeMismatch, response.AccessDeniedReason);
    }

    [Fact]
    public void Metered_NotInPlan_DeniesEchoingRequestedUsage()
    {
        var response = Meter(Snapshot(), "f-meter", requested: 4);

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, response.AccessDeniedReason);
        Assert.Equal(4, response.RequestedUsage);
        Assert.Equal("f-meter", response.Entitlement.Feature.Id);
        Assert.Equal(0, response.Entitlement.CurrentUsage);
        Assert.False(response.Entitlement.HasUsageLimit);
    }

    // ---- Enum

    [Fact]
    public void Enum_RequestedSubset_AllowsAndEchoes()
    {
        var response = Pick(Snapshot(Enum("f-enum", "a", "b", "c")), "f-enum", "c", "a");

        Assert.True(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.False(response.HasAccessDeniedReason);
        Assert.Equal(["a", "b", "c"], response.Entitlement.EnumValues);
        Assert.Equal(["c", "a"], response.RequestedValues);
        Assert.Equal(FeatureType.Enum, response.Entitlement.Feature.FeatureType);
    }

    [Fact]
    public void Enum_OneValueNotAllowed_DeniesValuesMismatch()
    {
        var response = Pick(Snapshot(Enum("f-enum", "a", "b")), "f-enum", "a", "z");

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.RequestedValuesMismatch, response.AccessDeniedReason);
        Assert.Equal(["a", "z"], response.RequestedValues);
    }

    [Fact]
    public void Enum_ValuesCompareCaseSensitively()
    {
        Assert.False(Pick(Snapshot(Enum("f-enum", "a")), "f-enum", "A").HasAccess);
    }

    [Fact]
    public void Enum_NothingRequested_Allows()
    {
        var response = Pick(Snapshot(Enum("f-enum", "a")), "f-enum");

        Assert.True(response.HasAccess);
        Assert.Empty(response.RequestedValues);
    }

    [Fact]
    public void Enum_NoOptions_Allows()
    {
        var response = EntitlementEvaluator.Enum(
            Snapshot(Enum("f-enum")), new GetEnumEntitlementRequest { FeatureId = "f-enum" }, FallbackSet.Empty, Now);

        Assert.True(response.HasAccess);
        Assert.Empty(response.Entitlement.EnumValues);
    }

    [Fact]
    public void Enum_NoAllowedValuesButOneRequested_Denies()
    {
        Assert.Equal(AccessDeniedReason.RequestedValuesMismatch, Pick(Snapshot(Enum("f-enum")), "f-enum", "a").AccessDeniedReason);
    }

    [Fact]
    public void Enum_ServerReason_WinsOverMatchingValues()
    {
        var response = Pick(Snapshot(Enum("f-enum", "a") with { DeniedReason = AccessDeniedReason.Revoked }), "f-enum", "a");

        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.Revoked, response.AccessDeniedReason);
    }

    [Fact]
    public void Enum_OnBooleanFeature_FallbackWithTypeMismatchAndNoRequestedValues()
    {
        var response = Pick(Snapshot(Boolean("f-enum")), "f-enum", "a");

        Assert.True(response.IsFallback);
        Assert.Equal(AccessDeniedReason.FeatureTypeMismatch, response.AccessDeniedReason);
        Assert.Empty(response.RequestedValues);
    }

    [Fact]
    public void Enum_NotInPlan_DeniesEchoingRequestedValues()
    {
        var response = Pick(Snapshot(), "f-enum", "a");

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, response.AccessDeniedReason);
        Assert.Equal(["a"], response.RequestedValues);
        Assert.Equal("f-enum", response.Entitlement.Feature.Id);
    }
}
