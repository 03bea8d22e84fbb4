using Sidecar.Core.Evaluation;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

public class UsagePeriodTests
{
    private static FeatureEntitlement Expired(string? anchor, EntitlementResetPeriod? period, string storedEnd = "2026-01-01T00:00:00Z") =>
        Metered("f", 100, 80) with
        {
            UsagePeriodAnchor = anchor is null ? null : Ms(anchor),
            UsagePeriodStart = Ms("2025-12-01T00:00:00Z"),
            UsagePeriodEnd = Ms(storedEnd),
            ResetPeriod = period,
        };

    private static void AssertPeriod(EffectiveUsage usage, string start, string end)
    {
        Assert.True(usage.RolledOver);
        Assert.Equal(0, usage.CurrentUsage);
        Assert.Equal(Ms(start), usage.UsagePeriodStart);
        Assert.Equal(Ms(end), usage.UsagePeriodEnd);
    }

    [Fact]
    public void Effective_PeriodNotEnded_ReturnsStoredFigures()
    {
        var entitlement = Metered("f", 100, 80);

        var usage = UsagePeriod.Effective(entitlement, Now);

        Assert.False(usage.RolledOver);
        Assert.Equal(80, usage.CurrentUsage);
        Assert.Equal(entitlement.UsagePeriodStart, usage.UsagePeriodStart);
        Assert.Equal(entitlement.UsagePeriodEnd, usage.UsagePeriodEnd);
    }

    [Fact]
    public void Effective_PeriodEndsExactlyNow_DoesNotRollOver()
    {
        var entitlement = Metered("f", 100, 80) with { UsagePeriodEnd = Now };

        var usage = UsagePeriod.Effective(entitlement, Now);

        Assert.False(usage.RolledOver);
        Assert.Equal(80, usage.CurrentUsage);
    }

    [Fact]
    public void Effective_PeriodEndedOneMillisecondAgo_RollsOver()
    {
        var entitlement = Metered("f", 100, 80) with { UsagePeriodEnd = Now - 1 };

        var usage = UsagePeriod.Effective(entitlement, Now);

        AssertPeriod(usage, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
    }

    [Fact]
    public void Effective_NoPeriodEnd_ReturnsStoredUsage()
    {
        var entitlement = Metered("f", 100, 80) with { UsagePeriodEnd = null };

        var usage = UsagePeriod.Effective(entitlement, Now);

        Assert.False(usage.RolledOver);
        Assert.Equal(80, usage.CurrentUsage);
        Assert.Null(usage.UsagePeriodEnd);
    }

    [Fact]
    public void Effective_NonMeteredWithPastEnd_IsLeftAlone()
    {
        var entitlement = Numeric("f", 10) with { CurrentUsage = 4, UsagePeriodEnd = Ms("2020-01-01T00:00:00Z") };

        var usage = UsagePeriod.Effective(entitlement, Now);

        Assert.False(usage.RolledOver);
        Assert.Equal(4, usage.CurrentUsage);
    }

    [Fact]
    public void Effective_Hour_RecomputesFromAnchor()
    {
        var usage = UsagePeriod.Effective(Expired("2026-01-01T00:30:00Z", EntitlementResetPeriod.Hour), Ms("2026-11-15T12:10:00Z"));

        AssertPeriod(usage, "2026-11-15T11:30:00Z", "2026-11-15T12:30:00Z");
    }

    [Fact]
    public void Effective_Day_JustBeforeTheAnchorTimeOfDay_StaysInPreviousDay()
    {
        var usage = UsagePeriod.Effective(Expired("2026-01-01T08:00:00Z", EntitlementResetPeriod.Day), Ms("2026-11-15T07:59:59.999Z"));

        AssertPeriod(usage, "2026-11-14T08:00:00Z", "2026-11-15T08:00:00Z");
    }

    [Fact]
    public void Effective_Day_ExactlyOnABoundary_StartsThere()
    {
        var usage = UsagePeriod.Effective(Expired("2026-01-01T08:00:00Z", EntitlementResetPeriod.Day), Ms("2026-11-15T08:00:00Z"));

        AssertPeriod(usage, "2026-11-15T08:00:00Z", "2026-11-16T08:00:00Z");
    }

    [Fact]
    public void Effective_Week_RecomputesFromAnchorWeekday()
    {
        // Anchor is a Monday; Nov 15 2026 is a Sunday, in the week starting Monday Nov 9.
        var usage = UsagePeriod.Effective(Expired("2026-01-05T00:00:00Z", EntitlementResetPeriod.Week), Now);

        AssertPeriod(usage, "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z");
    }

    [Fact]
    public void Effective_Month_MultiPeriodGap_LandsInCurrentMonth()
    {
        var usage = UsagePeriod.Effective(Expired("2026-01-01T00:00:00Z", EntitlementResetPeriod.Month, storedEnd: "2026-03-01T00:00:00Z"), Now);

        AssertPeriod(usage, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
    }

    [Fact]
    public void Effective_Month_KeepsAnchorTimeOfDay()
    {
        var usage = UsagePeriod.Effective(Expired("2026-01-15T10:00:00Z", EntitlementResetPeriod.Month), Ms("2026-03-15T09:59:00Z"));

        AssertPeriod(usage, "2026-02-15T10:00:00Z", "2026-03-15T10:00:00Z");
    }

    [Fact]
    public void Effective_MonthAnchoredJan31_BeforeFebEnd_PeriodEndsFeb28()
    {
        var usage = UsagePeriod.Effective(Expired("2026-01-31T00:00:00Z", EntitlementResetPeriod.Month), Ms("2026-02-27T12:00:00Z"));

        AssertPeriod(usage, "2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z");
    }

    [Fact]
    public void Effective_MonthAnchoredJan31_OnFeb28_ClampsStartAndEndsMar31()
    {
        // Calendar arithmetic on the anchor: Jan 31 + 2 months is Mar 31, not Feb 28 + 1 month (Mar 28).
        var usage = UsagePeriod.Effective(Expired("2026-01-31T00:00:00Z", EntitlementResetPeriod.Month), Ms("2026-02-28T12:00:00Z"));

        AssertPeriod(usage, "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z");
    }

    [Fact]
    public void Effective_MonthAnchoredJan31_LeapYear_ClampsToFeb29()
    {
        var usage = UsagePeriod.Effective(
            Expired("2024-01-31T00:00:00Z", EntitlementResetPeriod.Month, storedEnd: "2024-01-31T00:00:00Z"),
            Ms("2024-02-29T01:00:00Z"));

        AssertPeriod(usage, "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z");
    }

    [Fact]
    public void Effective_MonthAnchoredJan31_InApril_StartsApr30EndsMay31()
    {
        var usage = UsagePeriod.Effective(Expired("2026-01-31T00:00:00Z", EntitlementResetPeriod.Month), Ms("2026-05-01T00:00:00Z"));

        AssertPeriod(usage, "2026-04-30T00:00:00Z", "2026-05-31T00:00:00Z");
    }

    [Fact]
    public void Effective_Year_AnchorFeb29_ClampsInCommonYears()
    {
        var usage = UsagePeriod.Effective(Expired("2024-02-29T00:00:00Z", EntitlementResetPeriod.Year), Ms("2026-03-01T00:00:00Z"));

        AssertPeriod(usage, "2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z");
    }

    [Fact]
    public void Effective_Year_BeforeAnniversary_StaysInPreviousYear()
    {
        var usage = UsagePeriod.Effective(Expired("2024-02-29T00:00:00Z", EntitlementResetPeriod.Year), Ms("2026-02-27T00:00:00Z"));

        AssertPeriod(usage, "2025-02-28T00:00:00Z", "2026-02-28T00:00:00Z");
    }

    [Fact]
    public void Effective_Year_AnchorFeb29_BackToFeb29InLeapYear()
    {
        var usage = UsagePeriod.Effective(Expired("2024-02-29T00:00:00Z", EntitlementResetPeriod.Year), Ms("2028-02-29T12:00:00Z"));

        AssertPeriod(usage, "2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z");
    }

    [Fact]
    public void Effective_MissingAnchor_ZeroUsageAndNoDates()
    {
        var usage = UsagePeriod.Effective(Expired(null, EntitlementResetPeriod.Month), Now);

        Assert.True(usage.RolledOver);
        Assert.Equal(0, usage.CurrentUsage);
        Assert.Null(usage.UsagePeriodStart);
        Assert.Null(usage.UsagePeriodEnd);
    }

    [Fact]
    public void Effective_MissingResetPeriod_ZeroUsageAndNoDates()
    {
        var usage = UsagePeriod.Effective(Expired("2026-01-01T00:00:00Z", null), Now);

        Assert.True(usage.RolledOver);
        Assert.Equal(0, usage.CurrentUsage);
        Assert.Null(usage.UsagePeriodStart);
        Assert.Null(usage.UsagePeriodEnd);
    }

    [Fact]
    public void TryComputePeriod_UnspecifiedPeriod_ReturnsFalse()
    {
        Assert.False(UsagePeriod.TryComputePeriod(0, EntitlementResetPeriod.Unspecified, Now, out _, out _));
    }

    [Fact]
    public void TryComputePeriod_NowBeforeAnchor_PeriodStillContainsNow()
    {
        Assert.True(UsagePeriod.TryComputePeriod(Ms("2026-12-10T00:00:00Z"), EntitlementResetPeriod.Month, Now, out var start, out var end));
        Assert.Equal(Ms("2026-11-10T00:00:00Z"), start);
        Assert.Equal(Ms("2026-12-10T00:00:00Z"), end);

        Assert.True(UsagePeriod.TryComputePeriod(Ms("2026-11-20T06:00:00Z"), EntitlementResetPeriod.Day, Now, out start, out end));
        Assert.Equal(Ms("2026-11-15T06:00:00Z"), start);
        Assert.Equal(Ms("2026-11-16T06:00:00Z"), end);
    }

    [Fact]
    public void TryComputePeriod_OutOfCalendarRange_ReturnsFalse()
    {
        Assert.False(UsagePeriod.TryComputePeriod(long.MinValue, EntitlementResetPeriod.Month, Now, out _, out _));
        Assert.False(UsagePeriod.TryComputePeriod(0, EntitlementResetPeriod.Day, long.MaxValue, out _, out _));
    }
}
