using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Testing;

/// <summary>
/// Builders for customer snapshots, the model every tier stores and the evaluator answers from, and the fixed
/// instants they are stamped with: every test runs at a fixed "now", never the wall clock. Import with
/// <c>using static Sidecar.Testing.Snapshots;</c>.
/// </summary>
public static class Snapshots
{
    /// <summary>The evaluation tests' "now": 2026-11-15T12:00:00Z, inside the Nov 2026 period of <see cref="Metered"/>.</summary>
    public static readonly long Now = Ms("2026-11-15T12:00:00Z");

    /// <summary>The customer of the evaluation tests.</summary>
    public static readonly CustomerKey Key = new("cust-1", null);

    /// <summary>2025-05-01T00:00:00Z: start of <see cref="Sample"/>'s usage period.</summary>
    public const long MayFirst = 1_746_057_600_000;

    /// <summary>2025-06-01T00:00:00Z: end of <see cref="Sample"/>'s usage period.</summary>
    public const long JuneFirst = 1_748_736_000_000;

    /// <summary>2025-01-01T00:00:00Z: <see cref="Sample"/>'s usage period anchor.</summary>
    public const long Anchor = 1_735_689_600_000;

    /// <summary>2025-05-10T08:30:00Z: when <see cref="Sample"/>'s usage was last updated.</summary>
    public const long UsageTs = 1_746_865_800_000;

    /// <summary>Epoch milliseconds of an ISO-8601 instant (UTC unless it says otherwise).</summary>
    public static long Ms(string iso) =>
        DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeMilliseconds();

    /// <summary>The protobuf timestamp of an ISO-8601 instant.</summary>
    public static Timestamp Ts(string iso) => Timestamp.FromDateTimeOffset(
        DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));

    // ---- Features and credits -------------------------------------------------------------------------------

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

    // ---- Customers ------------------------------------------------------------------------------------------

    /// <summary><see cref="Key"/> with these features, version 1, fetched at <see cref="Now"/>.</summary>
    public static CustomerSnapshot Snapshot(params FeatureEntitlement[] features) =>
        new(Key, null, features, [], 1, Now);

    /// <summary><see cref="Key"/> with these features, credits and customer-level reason, version 1, fetched at <see cref="Now"/>.</summary>
    public static CustomerSnapshot Snapshot(FeatureEntitlement[] features, CreditGrant[] credits, AccessDeniedReason? reason = null) =>
        new(Key, reason, features, credits, 1, Now);

    /// <summary>A customer-level answer (no entitlements, epoch 0): CustomerNotFound, NoActiveSubscription, ...</summary>
    public static CustomerSnapshot CustomerLevel(AccessDeniedReason reason) => new(Key, reason, [], [], 0, Now);

    /// <summary>A typical small snapshot: one metered feature (first), one boolean feature, no credits.</summary>
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

    /// <summary>
    /// A customer with a metered feature (first), a boolean, an enum, a credit-backed feature and one credit, as
    /// Stigg's Redis layout stores it: every entitlement stamped <paramref name="entitlementsTs"/>, metered usage
    /// and the credit stamped <paramref name="usageTs"/>.
    /// </summary>
    public static CustomerSnapshot Sample(CustomerKey key, long entitlementsTs, double apiCalls = 250, long usageTs = UsageTs, long fetchedAt = UsageTs + 1000) =>
        new(
            key,
            null,
            [
                new FeatureEntitlement
                {
                    FeatureId = "feature-api-calls",
                    FeatureType = FeatureType.Number,
                    MeterType = MeterType.Incremental,
                    DisplayName = "API calls",
                    Units = "call",
                    UnitsPlural = "calls",
                    UsageLimit = 1000,
                    CurrentUsage = apiCalls,
                    EntitlementUpdatedAt = entitlementsTs,
                    UsageUpdatedAt = usageTs,
                    UsagePeriodAnchor = Anchor,
                    UsagePeriodStart = MayFirst,
                    UsagePeriodEnd = JuneFirst,
                    ResetPeriod = EntitlementResetPeriod.Month,
                },
                new FeatureEntitlement
                {
                    FeatureId = "feature-sso",
                    FeatureType = FeatureType.Boolean,
                    DisplayName = "SSO",
                    EntitlementUpdatedAt = entitlementsTs,
                },
                new FeatureEntitlement
                {
                    FeatureId = "feature-region",
                    FeatureType = FeatureType.Enum,
                    DisplayName = "Region",
                    EnumValues = ["eu", "us"],
                    DeniedReason = AccessDeniedReason.Revoked,
                    EntitlementUpdatedAt = entitlementsTs,
                    ValidUntil = JuneFirst,
                },
                new FeatureEntitlement
                {
                    FeatureId = "feature-ai",
                    FeatureType = FeatureType.Boolean,
                    DisplayName = "AI",
                    CreditCurrencyId = "ai-credits",
                    CreditRateAmount = 2,
                    EntitlementUpdatedAt = entitlementsTs,
                },
            ],
            [
                new CreditGrant
                {
                    CurrencyId = "ai-credits",
                    DisplayName = "AI credits",
                    UnitSingular = "credit",
                    UnitPlural = "credits",
                    UsageLimit = 5000,
                    CurrentUsage = 1200,
                    EntitlementUpdatedAt = entitlementsTs,
                    UsageUpdatedAt = usageTs,
                    UsagePeriodEnd = JuneFirst,
                },
            ],
            entitlementsTs,
            fetchedAt);

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

    /// <summary>Asserts that two snapshots hold the same value in every field.</summary>
    public static void AssertSame(CustomerSnapshot expected, CustomerSnapshot? actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
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

/// <summary>Entitlement states as Stigg's JSON carries them (the emulator's and the file mode's input), built in code.</summary>
public static class EntitlementStates
{
    public static EntitlementsStateDto OneBoolean(string featureId) => new()
    {
        EntitlementsV2 =
        [
            new EntitlementDto
            {
                TypeName = "FeatureEntitlement",
                IsGranted = true,
                Feature = new FeatureDto { RefId = featureId, FeatureType = "BOOLEAN" },
            },
        ],
    };

    public static EntitlementsStateDto OneMetered(string featureId, double limit, double usage) => new()
    {
        EntitlementsV2 =
        [
            new EntitlementDto
            {
                TypeName = "FeatureEntitlement",
                IsGranted = true,
                UsageLimit = limit,
                CurrentUsage = usage,
                Feature = new FeatureDto { RefId = featureId, FeatureType = "NUMBER", MeterType = "Incremental" },
            },
        ],
    };

    /// <summary>The sample file (samples/entitlements.json) as its DTO.</summary>
    public static EntitlementsFile SampleFile() =>
        JsonSerializer.Deserialize(File.ReadAllText(RepoPaths.SampleEntitlements), CoreJsonContext.Default.EntitlementsFile)
        ?? throw new InvalidOperationException("samples/entitlements.json is empty");

    /// <summary>
    /// A fixture of <paramref name="count"/> customers ("customer-00000", ...), each a copy of the sample's acme
    /// (a handful of entitlements of every kind) whose feature-seats limit is its index.
    /// </summary>
    public static EntitlementsFile ManyCustomers(int count)
    {
        var template = SampleFile().Customers.Single(c => c.CustomerId == "acme" && c.ResourceId is null).EntitlementsState!;
        var json = JsonSerializer.Serialize(template, CoreJsonContext.Default.EntitlementsStateDto);
        var file = new EntitlementsFile();
        for (var i = 0; i < count; i++)
        {
            var state = JsonSerializer.Deserialize(json, CoreJsonContext.Default.EntitlementsStateDto)!;
            state.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-seats").UsageLimit = i;
            file.Customers.Add(new FileCustomer { CustomerId = $"customer-{i:D5}", EntitlementsState = state });
        }

        return file;
    }

    /// <summary>One customer of bench/gen_dataset.py --features 20: 6 boolean, 4 numeric, 5 metered, 3 enum features, 2 credits.</summary>
    public static string BenchmarkPlanJson()
    {
        const string At = "\"entitlementUpdatedAt\":\"2026-11-01T10:00:00.000Z\",\"__typename\":\"FeatureEntitlement\",\"isGranted\":true";
        var items = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            items.Add($"{{{At},\"feature\":{{\"refId\":\"feature-boolean-{i:D2}\",\"featureType\":\"BOOLEAN\",\"displayName\":\"Feature Boolean {i:D2}\"}}}}");
        }

        for (var i = 0; i < 4; i++)
        {
            items.Add($"{{{At},\"usageLimit\":10,\"hasUnlimitedUsage\":false,\"feature\":{{\"refId\":\"feature-numeric-{i:D2}\",\"featureType\":\"NUMBER\",\"displayName\":\"Feature Numeric {i:D2}\",\"meterType\":\"None\",\"featureUnits\":\"seat\",\"featureUnitsPlural\":\"seats\"}}}}");
        }

        for (var i = 0; i < 5; i++)
        {
            items.Add($"{{{At},\"usageLimit\":1000,\"hasUnlimitedUsage\":false,\"hasSoftLimit\":false,\"currentUsage\":{i * 37},\"usageUpdatedAt\":\"2026-11-01T10:00:00.000Z\",\"usagePeriodAnchor\":\"2026-01-01T00:00:00.000Z\",\"usagePeriodStart\":\"2026-11-01T00:00:00.000Z\",\"usagePeriodEnd\":\"2099-12-01T00:00:00.000Z\",\"resetPeriod\":\"MONTH\",\"feature\":{{\"refId\":\"feature-metered-{i:D2}\",\"featureType\":\"NUMBER\",\"displayName\":\"Feature Metered {i:D2}\",\"meterType\":\"Incremental\",\"featureUnits\":\"call\",\"featureUnitsPlural\":\"calls\"}}}}");
        }

        for (var i = 0; i < 3; i++)
        {
            items.Add($"{{{At},\"enumValues\":[\"us-east-1\",\"eu-west-1\"],\"feature\":{{\"refId\":\"feature-enum-{i:D2}\",\"featureType\":\"ENUM\",\"displayName\":\"Feature Enum {i:D2}\"}}}}");
        }

        foreach (var currency in new[] { "ai-credits", "credits-1" })
        {
            items.Add($"{{\"currency\":{{\"currencyId\":\"{currency}\",\"displayName\":\"{currency} title\",\"unitSingular\":\"credit\",\"unitPlural\":\"credits\"}},\"usageLimit\":1000,\"currentUsage\":389,\"hasSoftLimit\":false,\"usageUpdatedAt\":\"2026-11-01T10:00:00.000Z\",\"entitlementUpdatedAt\":\"2026-11-01T10:00:00.000Z\",\"usagePeriodEnd\":\"2099-12-01T00:00:00.000Z\",\"__typename\":\"CreditEntitlement\",\"isGranted\":true}}");
        }

        return new StringBuilder("{\"entitlementsV2\":[").AppendJoin(',', items).Append("]}").ToString();
    }
}
