using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Tests;

/// <summary>Builders for snapshots and fixed instants: every test runs at a fixed "now", never the wall clock.</summary>
internal static class TestData
{
    /// <summary>2026-11-15T12:00:00Z.</summary>
    public static readonly long Now = Ms("2026-11-15T12:00:00Z");

    public static readonly CustomerKey Key = new("cust-1", null);

    public static long Ms(string iso) =>
        DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeMilliseconds();

    public static Timestamp Ts(string iso) => Timestamp.FromDateTimeOffset(
        DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));

    public static FeatureEntitlement Boolean(string id) => new()
    {
        FeatureId = id,
        FeatureType = FeatureType.Boolean,
        DisplayName = id,
    };

    public static FeatureEntitlement Numeric(string id, double? limit, bool unlimited = false) => new()
    {
        FeatureId = id,
        FeatureType = FeatureType.Number,
        MeterType = MeterType.None,
        UsageLimit = limit,
        HasUnlimitedUsage = unlimited,
        Units = "seat",
        UnitsPlural = "seats",
    };

    /// <summary>A monthly metered feature whose current period (Nov 2026) contains <see cref="Now"/>.</summary>
    public static FeatureEntitlement Metered(string id, double? limit, double usage, bool unlimited = false, bool softLimit = false) => new()
    {
        FeatureId = id,
        FeatureType = FeatureType.Number,
        MeterType = MeterType.Incremental,
        Units = "call",
        UnitsPlural = "calls",
        UsageLimit = limit,
        CurrentUsage = usage,
        HasUnlimitedUsage = unlimited,
        HasSoftLimit = softLimit,
        UsagePeriodAnchor = Ms("2026-01-01T00:00:00Z"),
        UsagePeriodStart = Ms("2026-11-01T00:00:00Z"),
        UsagePeriodEnd = Ms("2026-12-01T00:00:00Z"),
        ResetPeriod = EntitlementResetPeriod.Month,
    };

    public static FeatureEntitlement Enum(string id, params string[] values) => new()
    {
        FeatureId = id,
        FeatureType = FeatureType.Enum,
        EnumValues = values,
    };

    public static CreditGrant Credit(string currencyId, double limit, double usage, bool softLimit = false) => new()
    {
        CurrencyId = currencyId,
        DisplayName = "AI credits",
        UnitSingular = "credit",
        UnitPlural = "credits",
        UsageLimit = limit,
        CurrentUsage = usage,
        HasSoftLimit = softLimit,
        UsagePeriodEnd = Ms("2026-12-01T00:00:00Z"),
    };

    public static CustomerSnapshot Snapshot(params FeatureEntitlement[] features) =>
        new(Key, null, features, [], 1, Now);

    public static CustomerSnapshot Snapshot(FeatureEntitlement[] features, CreditGrant[] credits, AccessDeniedReason? reason = null) =>
        new(Key, reason, features, credits, 1, Now);

    public static CustomerSnapshot CustomerLevel(AccessDeniedReason reason) => new(Key, reason, [], [], 0, Now);

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sidecar.Aot.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Sidecar.Aot.sln not found above " + AppContext.BaseDirectory);
    }
}
