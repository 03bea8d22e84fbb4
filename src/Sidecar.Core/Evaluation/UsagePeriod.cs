using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// The usage figures to evaluate and report for a metered entitlement at one instant, after the lazy rollover.
/// Instants are epoch milliseconds (UTC).
/// </summary>
/// <param name="CurrentUsage">The usage in the effective period (0 after a rollover).</param>
/// <param name="UsagePeriodStart">Start of the effective period, or null when it cannot be known.</param>
/// <param name="UsagePeriodEnd">End of the effective period (the next reset), or null when it cannot be known.</param>
/// <param name="RolledOver">True when the stored period had ended and the figures were recomputed.</param>
public readonly record struct EffectiveUsage(double CurrentUsage, long? UsagePeriodStart, long? UsagePeriodEnd, bool RolledOver);

/// <summary>
/// Lazy usage-period rollover (stigg-behaviour §4.4): once a metered entitlement's period has ended, it is evaluated
/// as a fresh period with zero usage until the server sends new figures. Allocation-free.
/// </summary>
public static class UsagePeriod
{
    private const long HourMs = 3_600_000;
    private const long DayMs = 24 * HourMs;
    private const long WeekMs = 7 * DayMs;

    // DateTime's range in epoch milliseconds; outside it there is no calendar to compute with.
    private static readonly long MinEpochMs = (DateTime.MinValue.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;
    private static readonly long MaxEpochMs = (DateTime.MaxValue.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;

    /// <summary>
    /// The effective usage of <paramref name="entitlement"/> at <paramref name="nowMs"/>. Non-metered entitlements,
    /// and metered ones whose <c>usagePeriodEnd</c> is unknown or not yet before now, are returned as stored.
    /// When the period has ended the usage is 0 and the period is recomputed from the anchor; without an anchor or
    /// a reset period the dates are null (the usage is still 0).
    /// </summary>
    public static EffectiveUsage Effective(FeatureEntitlement entitlement, long nowMs)
    {
        if (!entitlement.IsMetered || entitlement.UsagePeriodEnd is not { } end || end >= nowMs)
        {
            return new EffectiveUsage(entitlement.CurrentUsage, entitlement.UsagePeriodStart, entitlement.UsagePeriodEnd, false);
        }

        if (entitlement.UsagePeriodAnchor is { } anchor
            && entitlement.ResetPeriod is { } period
            && TryComputePeriod(anchor, period, nowMs, out var start, out var newEnd))
        {
            return new EffectiveUsage(0, start, newEnd, true);
        }

        return new EffectiveUsage(0, null, null, true);
    }

    /// <summary>
    /// The period containing <paramref name="nowMs"/>: <c>[anchor + n units, anchor + (n+1) units)</c> with
    /// <c>n = floor((now - anchor) / unit)</c>. Months and years are calendar arithmetic applied to the anchor with
    /// the day of month clamped (Jan 31 + 1 month = Feb 28/29, Jan 31 + 2 months = Mar 31), never iteratively.
    /// </summary>
    /// <returns>False for an unknown reset period or instants outside the calendar's range.</returns>
    public static bool TryComputePeriod(long anchorMs, EntitlementResetPeriod period, long nowMs, out long startMs, out long endMs)
    {
        switch (period)
        {
            case EntitlementResetPeriod.Hour:
                return FixedPeriod(anchorMs, HourMs, nowMs, out startMs, out endMs);
            case EntitlementResetPeriod.Day:
                return FixedPeriod(anchorMs, DayMs, nowMs, out startMs, out endMs);
            case EntitlementResetPeriod.Week:
                return FixedPeriod(anchorMs, WeekMs, nowMs, out startMs, out endMs);
            case EntitlementResetPeriod.Month:
                return CalendarPeriod(anchorMs, monthsPerUnit: 1, nowMs, out startMs, out endMs);
            case EntitlementResetPeriod.Year:
                return CalendarPeriod(anchorMs, monthsPerUnit: 12, nowMs, out startMs, out endMs);
            default:
                startMs = 0;
                endMs = 0;
                return false;
        }
    }

    private static bool FixedPeriod(long anchorMs, long unitMs, long nowMs, out long startMs, out long endMs)
    {
        if (!InCalendarRange(anchorMs) || !InCalendarRange(nowMs))
        {
            startMs = 0;
            endMs = 0;
            return false;
        }

        // Floor division (now may precede the anchor in odd data): the period always contains now.
        var diff = nowMs - anchorMs;
        var n = diff / unitMs;
        if (diff % unitMs < 0)
        {
            n--;
        }

        startMs = anchorMs + (n * unitMs);
        endMs = startMs + unitMs;
        return true;
    }

    private static bool CalendarPeriod(long anchorMs, int monthsPerUnit, long nowMs, out long startMs, out long endMs)
    {
        startMs = 0;
        endMs = 0;
        if (!InCalendarRange(anchorMs) || !InCalendarRange(nowMs))
        {
            return false;
        }

        var anchor = ToDateTime(anchorMs);
        var now = ToDateTime(nowMs);
        var months = ((now.Year - anchor.Year) * 12L) + (now.Month - anchor.Month);
        var n = months >= 0 ? months / monthsPerUnit : -((-months + monthsPerUnit - 1) / monthsPerUnit);

        if (!TryAddMonths(anchor, n * monthsPerUnit, out var start))
        {
            return false;
        }

        // The whole-month count overshoots when now's day/time is before the anchor's (clamped) day/time.
        if (start > now)
        {
            n--;
            if (!TryAddMonths(anchor, n * monthsPerUnit, out start))
            {
                return false;
            }
        }

        if (!TryAddMonths(anchor, (n + 1) * monthsPerUnit, out var end))
        {
            return false;
        }

        startMs = ToEpochMs(start);
        endMs = ToEpochMs(end);
        return true;
    }

    private static bool TryAddMonths(DateTime anchor, long months, out DateTime result)
    {
        var target = (anchor.Year * 12L) + (anchor.Month - 1) + months;
        if (target < 12 || target >= 10_000 * 12L)
        {
            result = default;
            return false;
        }

        // AddMonths keeps the time of day and clamps the day to the target month's length.
        result = anchor.AddMonths((int)months);
        return true;
    }

    private static bool InCalendarRange(long epochMs) => epochMs >= MinEpochMs && epochMs <= MaxEpochMs;

    private static DateTime ToDateTime(long epochMs) =>
        new(DateTime.UnixEpoch.Ticks + (epochMs * TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    private static long ToEpochMs(DateTime value) => (value.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;
}
