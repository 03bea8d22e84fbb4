using Sidecar.Cache.Redis;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Cache.Tests.Redis.RedisTestKit;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Cache.Tests.Redis;

/// <summary>Keys written by hand in Stigg's layout (stigg-behaviour §7.2–7.4) are read correctly.</summary>
public sealed class RedisTierReadTests(RedisServerFixture fixture) : IClassFixture<RedisServerFixture>
{
    private const long Version = 1_746_000_000_000;

    private const string NewFormat = """
        {
          "feature-api-calls": {
            "calculatedEntitlement": {
              "type": "FEATURE",
              "feature": { "id": "feature-api-calls", "displayName": "API calls", "featureType": "NUMBER",
                           "meterType": "Incremental", "units": "call", "unitsPlural": "calls",
                           "description": "", "unitTransformation": null },
              "accessDeniedReason": null, "usageLimit": 1000, "hasUnlimitedUsage": false, "hasSoftLimit": true,
              "enumValues": [], "validUntil": null, "creditRate": null,
              "usagePeriodAnchor": 1735689600000, "resetPeriod": "MONTH",
              "resetPeriodConfiguration": { "monthlyAccordingTo": "SubscriptionStart" }
            },
            "usageData": { "currentUsage": 1, "usagePeriodStart": 1, "usagePeriodEnd": 2, "updatedAt": 3 }
          },
          "feature-region": {
            "calculatedEntitlement": {
              "type": "FEATURE",
              "feature": { "id": "feature-region", "displayName": "Region", "featureType": "ENUM", "meterType": null,
                           "units": null, "unitsPlural": null, "description": null, "unitTransformation": null },
              "accessDeniedReason": "Revoked", "usageLimit": null, "hasUnlimitedUsage": false, "hasSoftLimit": false,
              "enumValues": ["eu", "us"], "validUntil": 1748736000000, "creditRate": null,
              "usagePeriodAnchor": null, "resetPeriod": null, "resetPeriodConfiguration": null
            },
            "usageData": { "currentUsage": 0, "usagePeriodStart": null, "usagePeriodEnd": null, "updatedAt": 1746865800000 }
          },
          "feature-ai": {
            "calculatedEntitlement": {
              "type": "FEATURE",
              "feature": { "id": "feature-ai", "displayName": "AI", "featureType": "BOOLEAN", "meterType": "None" },
              "accessDeniedReason": null, "usageLimit": null, "hasUnlimitedUsage": false, "hasSoftLimit": false,
              "enumValues": null, "validUntil": "2025-06-01T00:00:00.000Z", "creditRate": { "amount": 2, "currencyId": "ai-credits" }
            },
            "usageData": { "currentUsage": 0, "usagePeriodStart": null, "usagePeriodEnd": null, "updatedAt": 1746865800000 }
          },
          "credit_ai-credits": {
            "calculatedEntitlement": {
              "type": "CREDIT",
              "currency": { "currencyId": "ai-credits", "displayName": "AI credits", "description": null,
                            "unitSingular": "credit", "unitPlural": "credits" },
              "accessDeniedReason": null, "usageLimit": 5000, "hasUnlimitedUsage": false, "hasSoftLimit": false,
              "validUntil": null
            },
            "usageData": { "currentUsage": 0, "usagePeriodStart": null, "usagePeriodEnd": null, "updatedAt": 1 }
          }
        }
        """;

    private const string OldFormat = """
        {
          "feature-seats": {
            "calculatedEntitlement": {
              "feature": { "id": "feature-seats", "featureType": "NUMBER", "meterType": "Fluctuating", "units": "seat", "unitsPlural": "seats" },
              "resourceId": null, "usageLimit": 10, "hasUnlimitedUsage": false, "hasSoftLimit": false,
              "accessDeniedReason": null, "enumValues": null, "validUntil": null, "creditRate": null
            },
            "featureUsage": { "resetPeriod": "MONTH", "resetPeriodConfiguration": null, "currentUsage": 3,
                              "usagePeriodAnchor": 1735689600000, "usagePeriodStart": 1746057600000, "nextResetDate": 1748736000000 }
          },
          "feature-max-projects": {
            "calculatedEntitlement": {
              "feature": { "id": "feature-max-projects", "featureType": "NUMBER", "meterType": "None", "units": null, "unitsPlural": null },
              "resourceId": null, "usageLimit": 25, "hasUnlimitedUsage": false, "hasSoftLimit": false,
              "accessDeniedReason": null, "enumValues": null, "validUntil": null, "creditRate": null
            },
            "featureUsage": { "resetPeriod": "YEAR", "currentUsage": 0, "nextResetDate": 1748736000000 }
          },
          "orphan": {
            "calculatedEntitlement": { "usageLimit": 5, "hasUnlimitedUsage": false },
            "featureUsage": { "currentUsage": 0 }
          }
        }
        """;

    [Fact]
    public async Task ReadAsync_NewFormatWrittenByHand_MapsEveryFieldAndTakesUsageFromUsageKeys()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await kit.SetAsync("c_acme", NewFormat);
        await kit.SetAsync("c_acme#timestamp", Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await kit.SetAsync("c_acme:metadata", """{"accessDeniedReason":null}""");
        await kit.SetAsync("c_acme:metadata#timestamp", "1746000000000");
        await kit.SetAsync("c_acme:f_feature-api-calls", """{"currentUsage":250,"usagePeriodStart":1746057600000,"usagePeriodEnd":1748736000000}""");
        await kit.SetAsync("c_acme:f_feature-api-calls#timestamp", "1746865800000");
        await kit.SetAsync("c_acme:credit_ai-credits", """{"currentUsage":1200,"usagePeriodStart":null,"usagePeriodEnd":1748736000000}""");
        await kit.SetAsync("c_acme:credit_ai-credits#timestamp", "1746865800001");

        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var snapshot = await tier.ReadAsync(new CustomerKey("acme", null), CancellationToken.None);
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        Assert.NotNull(snapshot);
        Assert.Equal(Version, snapshot.EntitlementsTimestamp);
        Assert.InRange(snapshot.FetchedAt, before, after);
        Assert.Null(snapshot.CustomerReason);
        Assert.Equal(["feature-api-calls", "feature-region", "feature-ai"], snapshot.Features.Select(f => f.FeatureId));

        var api = snapshot.Features[0];
        Assert.Equal(FeatureType.Number, api.FeatureType);
        Assert.Equal(MeterType.Incremental, api.MeterType);
        Assert.Equal(FeatureKind.Metered, api.Kind);
        Assert.Equal("API calls", api.DisplayName);
        Assert.Equal("call", api.Units);
        Assert.Equal("calls", api.UnitsPlural);
        Assert.Equal(1000, api.UsageLimit);
        Assert.True(api.HasSoftLimit);
        Assert.False(api.HasUnlimitedUsage);
        Assert.Equal(250, api.CurrentUsage);
        Assert.Equal(UsageTs, api.UsageUpdatedAt);
        Assert.Equal(MayFirst, api.UsagePeriodStart);
        Assert.Equal(JuneFirst, api.UsagePeriodEnd);
        Assert.Equal(Anchor, api.UsagePeriodAnchor);
        Assert.Equal(EntitlementResetPeriod.Month, api.ResetPeriod);
        Assert.Equal(Version, api.EntitlementUpdatedAt);

        var region = snapshot.Features[1];
        Assert.Equal(FeatureKind.Enum, region.Kind);
        Assert.Equal(["eu", "us"], region.EnumValues);
        Assert.Equal(AccessDeniedReason.Revoked, region.DeniedReason);
        Assert.Equal(JuneFirst, region.ValidUntil);
        Assert.Equal(JuneFirst, snapshot.EarliestValidUntil);

        var ai = snapshot.Features[2];
        Assert.Equal("ai-credits", ai.CreditCurrencyId);
        Assert.Equal(2, ai.CreditRateAmount);
        Assert.Equal(JuneFirst, ai.ValidUntil);

        var credit = Assert.Single(snapshot.Credits);
        Assert.Equal("ai-credits", credit.CurrencyId);
        Assert.Equal("AI credits", credit.DisplayName);
        Assert.Equal("credit", credit.UnitSingular);
        Assert.Equal("credits", credit.UnitPlural);
        Assert.Equal(5000, credit.UsageLimit);
        Assert.Equal(1200, credit.CurrentUsage);
        Assert.Equal(3800, credit.Remaining);
        Assert.Equal(JuneFirst, credit.UsagePeriodEnd);
        Assert.Equal(UsageTs + 1, credit.UsageUpdatedAt);
        kit.Logger.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task ReadAsync_OldFormat_AppliesTheMigrationRules()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();

        // 3.x: no metadata key, featureUsage instead of usageData, no type, no displayName, nextResetDate.
        await kit.SetAsync("c_legacy", OldFormat);
        await kit.SetAsync("c_legacy#timestamp", "1700000000000");
        await kit.SetAsync("c_legacy:f_feature-seats", """{"currentUsage":4,"usagePeriodStart":1746057600000,"nextResetDate":1748736000000}""");
        await kit.SetAsync("c_legacy:f_feature-seats#timestamp", "1746865800000");

        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var snapshot = await tier.ReadAsync(new CustomerKey("legacy", null), CancellationToken.None);

        Assert.NotNull(snapshot);
        Assert.Null(snapshot.CustomerReason);
        Assert.Empty(snapshot.Credits);

        // Rule 2: the entry without a feature is dropped.
        Assert.Equal(["feature-seats", "feature-max-projects"], snapshot.Features.Select(f => f.FeatureId));

        var seats = snapshot.Features[0];
        Assert.Equal(FeatureKind.Metered, seats.Kind);
        Assert.Equal("feature-seats", seats.DisplayName);                 // rule 5
        Assert.Equal(EntitlementResetPeriod.Month, seats.ResetPeriod);   // rule 3
        Assert.Equal(Anchor, seats.UsagePeriodAnchor);                   // rule 3
        Assert.Equal(4, seats.CurrentUsage);                             // from the usage key
        Assert.Equal(MayFirst, seats.UsagePeriodStart);
        Assert.Equal(JuneFirst, seats.UsagePeriodEnd);                   // rule 6 in the usage key
        Assert.Equal(UsageTs, seats.UsageUpdatedAt);
        Assert.Equal("seat", seats.Units);
        Assert.Equal(10, seats.UsageLimit);

        var projects = snapshot.Features[1];
        Assert.Equal(FeatureKind.Numeric, projects.Kind);
        Assert.Equal(25, projects.UsageLimit);
        Assert.Equal(EntitlementResetPeriod.Year, projects.ResetPeriod);  // rule 3
        Assert.Equal(JuneFirst, projects.UsagePeriodEnd);                 // rule 6 in usageData
        Assert.True(projects.UsageUpdatedAt >= before);                   // rule 4: no updatedAt means now
        kit.Logger.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task ReadAsync_CreditUnderBareCurrencyKeyWithMixedCaseType_IsRecognised()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await kit.SetAsync("c_c1", """{"tokens":{"calculatedEntitlement":{"type":"Credit","currencyId":"tokens","usageLimit":10},"usageData":{"currentUsage":0}}}""");
        await kit.SetAsync("c_c1#timestamp", "5");
        await kit.SetAsync("c_c1:credit_tokens", """{"currentUsage":7,"usagePeriodStart":null,"usagePeriodEnd":null}""");
        await kit.SetAsync("c_c1:credit_tokens#timestamp", "6");

        var snapshot = await tier.ReadAsync(new CustomerKey("c1", null), CancellationToken.None);

        Assert.NotNull(snapshot);
        Assert.Empty(snapshot.Features);
        var credit = Assert.Single(snapshot.Credits);
        Assert.Equal("tokens", credit.CurrencyId);
        Assert.Equal(3, credit.Remaining);
        Assert.Equal(6, credit.UsageUpdatedAt);
    }

    [Fact]
    public async Task ReadAsync_EmptyObjectWithMetadata_IsHitWithCustomerReason()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await kit.SetAsync("c_gone", "{}");
        await kit.SetAsync("c_gone#timestamp", "0");
        await kit.SetAsync("c_gone:metadata", """{"accessDeniedReason":"NoActiveSubscription"}""");

        var snapshot = await tier.ReadAsync(new CustomerKey("gone", null), CancellationToken.None);

        Assert.NotNull(snapshot);
        Assert.Empty(snapshot.Features);
        Assert.Empty(snapshot.Credits);
        Assert.Equal(0, snapshot.EntitlementsTimestamp);
        Assert.Equal(AccessDeniedReason.NoActiveSubscription, snapshot.CustomerReason);
    }

    [Fact]
    public async Task ReadAsync_EmptyStringValue_IsMiss()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await kit.SetAsync("c_e", "");
        await kit.SetAsync("c_e#timestamp", "10");

        Assert.Null(await tier.ReadAsync(new CustomerKey("e", null), CancellationToken.None));
    }

    [Fact]
    public async Task ReadAsync_TornPair_IsMiss()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        await kit.SetAsync("c_torn", "{}");
        await kit.SetAsync("c_torn2#timestamp", "10");
        await kit.SetAsync("c_torn3", "{}");
        await kit.SetAsync("c_torn3#timestamp", "not a date");

        Assert.Null(await tier.ReadAsync(new CustomerKey("torn", null), CancellationToken.None));   // value, no timestamp
        Assert.Null(await tier.ReadAsync(new CustomerKey("torn2", null), CancellationToken.None));  // timestamp, no value
        Assert.Null(await tier.ReadAsync(new CustomerKey("torn3", null), CancellationToken.None));  // invalid timestamp
    }

    [Fact]
    public async Task ReadAsync_UsageKeyOrItsTimestampMissing_IsMissAndWarns()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        var a = new CustomerKey("a", null);
        var b = new CustomerKey("b", null);
        await tier.WriteAsync(Sample(a, Version), CancellationToken.None);
        await tier.WriteAsync(Sample(b, Version), CancellationToken.None);
        Assert.NotNull(await tier.ReadAsync(a, CancellationToken.None));

        await kit.Db.KeyDeleteAsync(kit.K("c_a:f_feature-api-calls"));
        await kit.Db.KeyDeleteAsync(kit.K("c_b:credit_ai-credits#timestamp"));

        Assert.Null(await tier.ReadAsync(a, CancellationToken.None));
        Assert.Null(await tier.ReadAsync(b, CancellationToken.None));
        await kit.Logger.WaitForEventAsync(2207, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ReadAsync_CorruptJson_IsMissAndLogsError()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        kit.Logs.ExpectErrors(e => e.EventId.Id == 2206);
        await kit.SetAsync("c_bad", "{\"feature-x\": [1, 2");
        await kit.SetAsync("c_bad#timestamp", "10");

        Assert.Null(await tier.ReadAsync(new CustomerKey("bad", null), CancellationToken.None));
        var logged = await kit.Logger.WaitForEventAsync(2206, TimeSpan.FromSeconds(5));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, logged.Level);
        Assert.Contains(kit.K("c_bad"), logged.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1000L, 1000L, true, true)]    // resource as new as the customer level: hit
    [InlineData(2000L, 1000L, true, true)]    // resource newer: hit
    [InlineData(1000L, 2000L, true, false)]   // customer level changed after the resource entry: stale
    [InlineData(1000L, null, true, false)]    // customer level missing: stale
    [InlineData(0L, 2000L, false, true)]      // no resource entitlements, customer level present: hit
    [InlineData(0L, null, false, false)]      // no resource entitlements, customer level missing: stale
    public async Task ReadAsync_ResourceEntry_AppliesTheGlobalCustomerStalenessRule(long resourceTs, long? globalTs, bool resourceHasEntitlements, bool hit)
    {
        await using var kit = await CreateAsync(fixture.Server);
        var tier = await kit.TierAsync();
        var resource = new CustomerKey("acme", "ws-1");
        if (globalTs is { } g)
        {
            await tier.WriteAsync(Sample(resource.Global, g), CancellationToken.None);
        }

        var snapshot = resourceHasEntitlements
            ? Sample(resource, resourceTs)
            : new CustomerSnapshot(resource, null, [], [], resourceTs, UsageTs);
        await tier.WriteAsync(snapshot, CancellationToken.None);
        Assert.NotNull(await kit.GetAsync("c_acme:r_ws-1"));

        var read = await tier.ReadAsync(resource, CancellationToken.None);

        Assert.Equal(hit, read is not null);
        if (read is not null)
        {
            Assert.Equal(resource, read.Key);
            Assert.Equal(resourceHasEntitlements ? 4 : 0, read.Features.Count);
        }
    }

    [Fact]
    public async Task DisposeAsync_SharedConnection_StaysOpenForItsOtherUsers()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var connection = await kit.ConnectAsync();
        var first = new RedisTier(connection);
        await first.WriteAsync(Sample(new CustomerKey("acme", null), Version), CancellationToken.None);

        await first.DisposeAsync();

        Assert.True(connection.IsConnected);
        var second = new RedisTier(connection);
        Assert.Equal(Version, (await second.ReadAsync(new CustomerKey("acme", null), CancellationToken.None))?.EntitlementsTimestamp);
    }
}
