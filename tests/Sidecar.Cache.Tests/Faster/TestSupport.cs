using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sidecar.Cache.Faster;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Cache.Tests.Faster;

/// <summary>A temp directory removed (with everything FASTER wrote) when the test ends.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sidecar-faster-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}

internal static class Snapshots
{
    /// <summary>A snapshot with every field set, including unusual values (negative instants, unknown enum numbers).</summary>
    public static CustomerSnapshot Full(string customerId = "acme", string? resourceId = "workspace-1", long timestamp = 1_700_000_000_000) =>
        new(
            new CustomerKey(customerId, resourceId),
            AccessDeniedReason.NoActiveSubscription,
            [
                new FeatureEntitlement
                {
                    FeatureId = "feature-seats",
                    FeatureType = FeatureType.Number,
                    MeterType = MeterType.Incremental,
                    DisplayName = "Seats ✓",
                    Units = "seat",
                    UnitsPlural = "seats",
                    UsageLimit = 25.5,
                    HasUnlimitedUsage = true,
                    HasSoftLimit = true,
                    CurrentUsage = -0.25,
                    EnumValues = ["a", "", "ünïcødé"],
                    DeniedReason = AccessDeniedReason.BudgetExceeded,
                    EntitlementUpdatedAt = timestamp - 1,
                    UsageUpdatedAt = timestamp - 2,
                    UsagePeriodAnchor = -5,
                    UsagePeriodStart = 1_699_000_000_000,
                    UsagePeriodEnd = 1_701_000_000_000,
                    ResetPeriod = EntitlementResetPeriod.Week,
                    ValidUntil = 1_800_000_000_000,
                    CreditCurrencyId = "credits-usd",
                    CreditRateAmount = 0.001,
                },
                new FeatureEntitlement
                {
                    FeatureId = "feature-odd",
                    FeatureType = (FeatureType)77,
                    MeterType = (MeterType)(-3),
                    CurrentUsage = double.MaxValue,
                    UsageLimit = double.PositiveInfinity,
                    DeniedReason = (AccessDeniedReason)99,
                    ResetPeriod = (EntitlementResetPeriod)42,
                    EntitlementUpdatedAt = long.MinValue,
                    UsageUpdatedAt = long.MaxValue,
                },
            ],
            [
                new CreditGrant
                {
                    CurrencyId = "credits-usd",
                    DisplayName = "Dollars",
                    Description = "Prepaid credits",
                    UnitSingular = "credit",
                    UnitPlural = "credits",
                    UsageLimit = 1000,
                    CurrentUsage = 12.75,
                    HasSoftLimit = true,
                    DeniedReason = AccessDeniedReason.InsufficientCredits,
                    EntitlementUpdatedAt = timestamp - 3,
                    UsageUpdatedAt = timestamp - 4,
                    UsagePeriodEnd = 1_702_000_000_000,
                    ValidUntil = 1_900_000_000_000,
                },
            ],
            timestamp,
            fetchedAt: timestamp + 17);

    /// <summary>A typical small snapshot: one metered feature, one boolean feature, no credits.</summary>
    public static CustomerSnapshot Small(string customerId, long timestamp, double usage = 0, long usageAt = 0, string? resourceId = null) =>
        new(
            new CustomerKey(customerId, resourceId),
            null,
            [
                new FeatureEntitlement
                {
                    FeatureId = "feature-api-calls",
                    FeatureType = FeatureType.Number,
                    MeterType = MeterType.Fluctuating,
                    UsageLimit = 1000,
                    CurrentUsage = usage,
                    UsageUpdatedAt = usageAt,
                    EntitlementUpdatedAt = timestamp,
                },
                new FeatureEntitlement { FeatureId = "feature-sso", FeatureType = FeatureType.Boolean },
            ],
            [],
            timestamp,
            fetchedAt: timestamp);

    /// <summary>Asserts that two snapshots hold the same value in every field.</summary>
    public static void AssertSame(CustomerSnapshot expected, CustomerSnapshot? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Key, actual.Key);
        Assert.Equal(expected.CustomerReason, actual.CustomerReason);
        Assert.Equal(expected.EntitlementsTimestamp, actual.EntitlementsTimestamp);
        Assert.Equal(expected.FetchedAt, actual.FetchedAt);
        Assert.Equal(expected.Features.Count, actual.Features.Count);
        for (var i = 0; i < expected.Features.Count; i++)
        {
            // Records compare every field; the enum list is compared by content separately.
            Assert.Equal(expected.Features[i] with { EnumValues = [] }, actual.Features[i] with { EnumValues = [] });
            Assert.Equal(expected.Features[i].EnumValues, actual.Features[i].EnumValues);
        }

        Assert.Equal(expected.Credits, actual.Credits);
    }
}
