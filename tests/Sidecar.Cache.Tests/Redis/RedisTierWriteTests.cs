using System.Globalization;
using System.Text.Json;
using Sidecar.Core.Model;
using StackExchange.Redis;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Cache.Tests.Redis.RedisTestKit;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Cache.Tests.Redis;

/// <summary>Our writes produce exactly Stigg's layout (stigg-behaviour §7.2, §7.3, §7.5, §7.8) and honour its guards.</summary>
public sealed class RedisTierWriteTests(RedisServerFixture fixture) : IClassFixture<RedisServerFixture>
{
    private const long Version = 1_746_000_000_000;
    private static readonly CustomerKey Acme = new("acme", null);

    [Fact]
    public async Task WriteAsync_Snapshot_ProducesStiggsKeysValuesAndTimestamps()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();

        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None);

        string[] expected =
        [
            kit.K("c_acme"),
            kit.K("c_acme#timestamp"),
            kit.K("c_acme:credit_ai-credits"),
            kit.K("c_acme:credit_ai-credits#timestamp"),
            kit.K("c_acme:f_feature-api-calls"),
            kit.K("c_acme:f_feature-api-calls#timestamp"),
            kit.K("c_acme:metadata"),
            kit.K("c_acme:metadata#timestamp"),
        ];
        Assert.Equal(expected, await kit.KeysAsync()); // the setCustomer lock P-acme is released too

        Assert.Equal("1746000000000", await kit.GetAsync("c_acme#timestamp"));
        Assert.Equal("1746000000000", await kit.GetAsync("c_acme:metadata#timestamp"));
        Assert.Equal("1746865800000", await kit.GetAsync("c_acme:f_feature-api-calls#timestamp"));
        Assert.Equal("1746865800000", await kit.GetAsync("c_acme:credit_ai-credits#timestamp"));

        Assert.Equal("""{"accessDeniedReason":null}""", await kit.GetAsync("c_acme:metadata"));
        Assert.Equal("""{"currentUsage":250,"usagePeriodStart":1746057600000,"usagePeriodEnd":1748736000000}""", await kit.GetAsync("c_acme:f_feature-api-calls"));
        Assert.Equal("""{"currentUsage":1200,"usagePeriodStart":null,"usagePeriodEnd":1748736000000}""", await kit.GetAsync("c_acme:credit_ai-credits"));

        using var doc = JsonDocument.Parse((await kit.GetAsync("c_acme"))!);
        var root = doc.RootElement;
        Assert.Equal(["feature-api-calls", "feature-sso", "feature-region", "feature-ai", "credit_ai-credits"], root.EnumerateObject().Select(p => p.Name));

        var api = root.GetProperty("feature-api-calls");
        var calc = api.GetProperty("calculatedEntitlement");
        Assert.Equal("FEATURE", calc.GetProperty("type").GetString());
        var feature = calc.GetProperty("feature");
        Assert.Equal("feature-api-calls", feature.GetProperty("id").GetString());
        Assert.Equal("API calls", feature.GetProperty("displayName").GetString());
        Assert.Equal("NUMBER", feature.GetProperty("featureType").GetString());
        Assert.Equal("Incremental", feature.GetProperty("meterType").GetString());
        Assert.Equal("call", feature.GetProperty("units").GetString());
        Assert.Equal("calls", feature.GetProperty("unitsPlural").GetString());
        Assert.Equal(JsonValueKind.Null, calc.GetProperty("accessDeniedReason").ValueKind);
        Assert.Equal(1000, calc.GetProperty("usageLimit").GetDouble());
        Assert.False(calc.GetProperty("hasUnlimitedUsage").GetBoolean());
        Assert.False(calc.GetProperty("hasSoftLimit").GetBoolean());
        Assert.Equal(JsonValueKind.Array, calc.GetProperty("enumValues").ValueKind);
        Assert.Equal(JsonValueKind.Null, calc.GetProperty("validUntil").ValueKind);
        Assert.Equal(JsonValueKind.Null, calc.GetProperty("creditRate").ValueKind);
        Assert.Equal(Anchor, calc.GetProperty("usagePeriodAnchor").GetInt64());
        Assert.Equal("MONTH", calc.GetProperty("resetPeriod").GetString());
        var usageData = api.GetProperty("usageData");
        Assert.Equal(250, usageData.GetProperty("currentUsage").GetDouble());
        Assert.Equal(MayFirst, usageData.GetProperty("usagePeriodStart").GetInt64());
        Assert.Equal(JuneFirst, usageData.GetProperty("usagePeriodEnd").GetInt64());
        Assert.Equal(UsageTs, usageData.GetProperty("updatedAt").GetInt64());

        var region = root.GetProperty("feature-region").GetProperty("calculatedEntitlement");
        Assert.Equal("Revoked", region.GetProperty("accessDeniedReason").GetString());
        Assert.Equal(["eu", "us"], region.GetProperty("enumValues").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(JuneFirst, region.GetProperty("validUntil").GetInt64());

        var rate = root.GetProperty("feature-ai").GetProperty("calculatedEntitlement").GetProperty("creditRate");
        Assert.Equal(2, rate.GetProperty("amount").GetDouble());
        Assert.Equal("ai-credits", rate.GetProperty("currencyId").GetString());

        var credit = root.GetProperty("credit_ai-credits");
        var creditCalc = credit.GetProperty("calculatedEntitlement");
        Assert.Equal("CREDIT", creditCalc.GetProperty("type").GetString());
        Assert.Equal("ai-credits", creditCalc.GetProperty("currency").GetProperty("currencyId").GetString());
        Assert.Equal("AI credits", creditCalc.GetProperty("currency").GetProperty("displayName").GetString());
        Assert.Equal(5000, creditCalc.GetProperty("usageLimit").GetDouble());
        Assert.Equal(1200, credit.GetProperty("usageData").GetProperty("currentUsage").GetDouble());
        kit.Logger.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task WriteAsync_DefaultTtl_SetsExpiryOnEveryKeyIncludingTimestamps()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();

        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None);

        var keys = await kit.KeysAsync();
        Assert.Equal(8, keys.Length);
        foreach (var key in keys)
        {
            var ttl = await kit.Db.KeyTimeToLiveAsync(key);
            Assert.True(ttl is { } t && t > TimeSpan.FromSeconds(604800 - 60) && t <= TimeSpan.FromSeconds(604800), $"{key}: {ttl}");
        }
    }

    [Fact]
    public async Task WriteAsync_NegativeTtl_WritesWithoutExpiry()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync(ttl: -1);

        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None);
        await tier.WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 300, MayFirst, JuneFirst, UsageTs + 1), CancellationToken.None);

        var keys = await kit.KeysAsync();
        Assert.Equal(8, keys.Length);
        foreach (var key in keys)
        {
            Assert.Null(await kit.Db.KeyTimeToLiveAsync(key));
        }
    }

    [Fact]
    public async Task WriteAsync_ThenReadAsync_RoundTripsTheSnapshot()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        var written = Sample(new CustomerKey("acme", "ws-1"), Version);
        await tier.WriteAsync(Sample(Acme, Version - 5), CancellationToken.None);
        await tier.WriteAsync(written, CancellationToken.None);

        var read = await tier.ReadAsync(written.Key, CancellationToken.None);

        Assert.NotNull(read);
        Assert.Equal(written.Key, read.Key);
        Assert.Equal(written.EntitlementsTimestamp, read.EntitlementsTimestamp);
        Assert.Equal(written.Features.Count, read.Features.Count);
        for (var i = 0; i < written.Features.Count; i++)
        {
            var expected = written.Features[i];
            var actual = read.Features[i];
            Assert.Equal(expected.EnumValues, actual.EnumValues);

            // Non-metered features have no usage timestamp of their own; usageData.updatedAt falls back to the fetch time.
            var usageTs = expected.IsMetered ? expected.UsageUpdatedAt : written.FetchedAt;
            Assert.Equal(expected with { EnumValues = actual.EnumValues, UsageUpdatedAt = usageTs }, actual);
        }

        Assert.Equal(written.Credits, read.Credits);
        kit.Logger.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task WriteAsync_CustomerReason_IsStoredInMetadata()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();

        await tier.WriteAsync(new CustomerSnapshot(Acme, AccessDeniedReason.CustomerIsArchived, [], [], 0, UsageTs), CancellationToken.None);

        Assert.Equal("{}", await kit.GetAsync("c_acme"));
        Assert.Equal("""{"accessDeniedReason":"CustomerIsArchived"}""", await kit.GetAsync("c_acme:metadata"));
    }

    [Fact]
    public async Task WriteAsync_OlderThanStored_LeavesTheStoredTimestampKeysAndNewerReplacesThem()
    {
        // What the tier then answers is the tier contract's (SnapshotTierContract); here, the keys.
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await tier.WriteAsync(Sample(Acme, 2000, apiCalls: 500, usageTs: 3000), CancellationToken.None);

        await tier.WriteAsync(Sample(Acme, 1000, apiCalls: 100, usageTs: 2000), CancellationToken.None);

        Assert.Equal("2000", await kit.GetAsync("c_acme#timestamp"));
        Assert.Equal("3000", await kit.GetAsync("c_acme:f_feature-api-calls#timestamp"));

        await tier.WriteAsync(Sample(Acme, 3000, apiCalls: 700, usageTs: 4000), CancellationToken.None);

        Assert.Equal("3000", await kit.GetAsync("c_acme#timestamp"));
        Assert.Equal("4000", await kit.GetAsync("c_acme:f_feature-api-calls#timestamp"));
    }

    [Fact]
    public async Task WriteAsync_EntitlementsNewerButUsageOlder_GuardsEachKeySeparately()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await tier.WriteAsync(Sample(Acme, 1000, apiCalls: 500, usageTs: 9000), CancellationToken.None);

        await tier.WriteAsync(Sample(Acme, 2000, apiCalls: 100, usageTs: 5000), CancellationToken.None);

        Assert.Equal("2000", await kit.GetAsync("c_acme#timestamp"));
        Assert.Equal("9000", await kit.GetAsync("c_acme:f_feature-api-calls#timestamp"));
        var read = await tier.ReadAsync(Acme, CancellationToken.None);
        Assert.Equal(2000, read?.EntitlementsTimestamp);
        Assert.Equal(500, read?.Features[0].CurrentUsage);
    }

    [Fact]
    public async Task WriteAsync_EpochZeroTimestamp_WritesAnEmptyMapAtZero()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await tier.WriteAsync(Sample(Acme, 5000), CancellationToken.None);

        // An empty list (stigg-behaviour §3.3) carries epoch 0, which always wins.
        await tier.WriteAsync(new CustomerSnapshot(Acme, AccessDeniedReason.NoActiveSubscription, [], [], 0, UsageTs), CancellationToken.None);

        Assert.Equal("{}", await kit.GetAsync("c_acme"));
        Assert.Equal("0", await kit.GetAsync("c_acme#timestamp"));
        Assert.Equal("""{"accessDeniedReason":"NoActiveSubscription"}""", await kit.GetAsync("c_acme:metadata"));
    }

    [Fact]
    public async Task WriteAsync_LockHeldBriefly_WaitsForItAndWrites()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();

        // Another writer (a Stigg SDK with redlock, say) holds setCustomer's lock P-acme for a moment.
        Assert.True(await kit.Db.StringSetAsync(kit.Prefix + "-acme", "someone-else", TimeSpan.FromMilliseconds(400), When.NotExists));

        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None);

        Assert.Equal("1746000000000", await kit.GetAsync("c_acme#timestamp"));
        Assert.False(await kit.Db.KeyExistsAsync(kit.Prefix + "-acme"));
        kit.Logger.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task WriteAsync_ResourceEntry_UsesTheResourceKeysAndLock()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        var key = new CustomerKey("acme", "ws-1");
        Assert.True(await kit.Db.StringSetAsync(kit.Prefix + "-acme:ws-1", "someone-else", TimeSpan.FromMilliseconds(300), When.NotExists));

        await tier.WriteAsync(new CustomerSnapshot(key, null, [], [], 7, UsageTs), CancellationToken.None);

        Assert.Equal([kit.K("c_acme:r_ws-1"), kit.K("c_acme:r_ws-1#timestamp"), kit.K("c_acme:r_ws-1:metadata"), kit.K("c_acme:r_ws-1:metadata#timestamp")], await kit.KeysAsync());
    }

    [Fact]
    public async Task WriteUsageAsync_CustomerNotStored_WritesNothing()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();

        await tier.WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 10, null, null, UsageTs), CancellationToken.None);

        Assert.Empty(await kit.KeysAsync());
    }

    [Fact]
    public async Task WriteUsageAsync_NewerThenOlder_UsageKeyHoldsTheNewer()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None);

        await tier.WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 900, MayFirst, JuneFirst, UsageTs + 10), CancellationToken.None);
        await tier.WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 100, MayFirst, JuneFirst, UsageTs + 5), CancellationToken.None);

        Assert.Equal("""{"currentUsage":900,"usagePeriodStart":1746057600000,"usagePeriodEnd":1748736000000}""", await kit.GetAsync("c_acme:f_feature-api-calls"));
        Assert.Equal((UsageTs + 10).ToString(CultureInfo.InvariantCulture), await kit.GetAsync("c_acme:f_feature-api-calls#timestamp"));
        Assert.Equal(Version.ToString(CultureInfo.InvariantCulture), await kit.GetAsync("c_acme#timestamp"));
        kit.Logger.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task WriteUsageAsync_Credit_WritesTheCreditUsageKey()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None);

        await tier.WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Credit, "ai-credits", 4999, null, JuneFirst, UsageTs + 1), CancellationToken.None);

        Assert.Equal("""{"currentUsage":4999,"usagePeriodStart":null,"usagePeriodEnd":1748736000000}""", await kit.GetAsync("c_acme:credit_ai-credits"));
        Assert.Equal((UsageTs + 1).ToString(CultureInfo.InvariantCulture), await kit.GetAsync("c_acme:credit_ai-credits#timestamp"));
    }

    [Fact]
    public async Task WriteUsageAsync_NullPeriod_WritesNullsInTheUsageKey()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None);

        await tier.WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 42, null, null, UsageTs + 1), CancellationToken.None);

        // The period stays in the entitlements map, where reads take it from (the tier contract checks that).
        Assert.Equal("""{"currentUsage":42,"usagePeriodStart":null,"usagePeriodEnd":null}""", await kit.GetAsync("c_acme:f_feature-api-calls"));
    }

    [Fact]
    public async Task RemoveAsync_PurgesTheEntryAndLeavesUsageKeys()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None);

        await tier.RemoveAsync(Acme, CancellationToken.None);

        Assert.Equal(
            [kit.K("c_acme:credit_ai-credits"), kit.K("c_acme:credit_ai-credits#timestamp"), kit.K("c_acme:f_feature-api-calls"), kit.K("c_acme:f_feature-api-calls#timestamp")],
            await kit.KeysAsync());
        kit.Logger.AssertNoWarningsOrErrors();
    }
}
