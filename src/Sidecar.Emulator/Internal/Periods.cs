using Sidecar.Core.Json;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// Server-side usage-period reset: when a metered entitlement's period has ended, the upstream serves the period
/// that contains "now" with usage back at 0. Periods are counted from the anchor in whole reset units; months and
/// years use calendar arithmetic (day of month clamped, like stigg-behaviour §4.4).
/// </summary>
internal static class Periods
{
    private const long HourMs = 3_600_000;
    private const long DayMs = 24 * HourMs;
    private const long WeekMs = 7 * DayMs;

    /// <summary>Rolls every ended period of the list forward; true when something changed.</summary>
    public static bool RollOver(List<EntitlementDto> entitlements, long now)
    {
        var changed = false;
        foreach (var e in entitlements)
        {
            if (e.IsCredit || e.ResetPeriod is null || e.UsagePeriodEnd is not { } end || end > now)
            {
                continue;
            }

            var anchor = e.UsagePeriodAnchor ?? e.UsagePeriodStart ?? end;
            if (Containing(anchor, e.ResetPeriod, now) is not { } period)
            {
                continue;
            }

            e.CurrentUsage = 0;
            e.UsagePeriodStart = period.Start;
            e.UsagePeriodEnd = period.End;
            e.UsageUpdatedAt = Math.Max(e.UsageUpdatedAt ?? 0, period.Start);
            changed = true;
        }

        return changed;
    }

    /// <summary>The earliest instant at which <see cref="RollOver"/> would change the list, or null.</summary>
    public static long? NextRollover(List<EntitlementDto> entitlements)
    {
        long? next = null;
        foreach (var e in entitlements)
        {
            if (!e.IsCredit && e.ResetPeriod is not null && e.UsagePeriodEnd is { } end && (next is null || end < next))
            {
                next = end;
            }
        }

        return next;
    }

    /// <summary>The reset period <c>[Start, End)</c> that contains <paramref name="now"/>, counted from the anchor.</summary>
    public static (long Start, long End)? Containing(long anchor, string resetPeriod, long now)
    {
        switch (resetPeriod.ToUpperInvariant())
        {
            case "HOUR":
                return Fixed(anchor, HourMs, now);
            case "DAY":
                return Fixed(anchor, DayMs, now);
            case "WEEK":
                return Fixed(anchor, WeekMs, now);
            case "MONTH":
                return Calendar(anchor, 1, now);
            case "YEAR":
                return Calendar(anchor, 12, now);
            default:
                return null;
        }
    }

    private static (long, long) Fixed(long anchor, long unit, long now)
    {
        var n = Math.Floor((double)(now - anchor) / unit);
        var start = anchor + ((long)n * unit);
        return (start, start + unit);
    }

    private static (long, long) Calendar(long anchorMs, int monthsPerUnit, long nowMs)
    {
        var anchor = DateTimeOffset.FromUnixTimeMilliseconds(anchorMs);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(nowMs);
        var months = ((now.Year - anchor.Year) * 12) + now.Month - anchor.Month;
        var k = (int)Math.Floor((double)months / monthsPerUnit);

        // The estimate is off by at most one unit because of the day-of-month and time of day.
        while (anchor.AddMonths(k * monthsPerUnit) > now)
        {
            k--;
        }

        while (anchor.AddMonths((k + 1) * monthsPerUnit) <= now)
        {
            k++;
        }

        return (anchor.AddMonths(k * monthsPerUnit).ToUnixTimeMilliseconds(),
            anchor.AddMonths((k + 1) * monthsPerUnit).ToUnixTimeMilliseconds());
    }
}
