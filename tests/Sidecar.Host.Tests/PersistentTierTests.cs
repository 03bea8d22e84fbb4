using Sidecar.Core.Json;
using Sidecar.Emulator;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>Issue #4 in process: FASTER below a small hot tier, and Redis shared by two sidecars, against the emulator.</summary>
[Collection(MetricsCollection.Name)] // asserts on /metrics
public sealed class PersistentTierTests
{
    [Fact]
    public async Task DatasetLargerThanHotTier_EvictedCustomersServedFromFaster_NoRefetch()
    {
        const int Customers = 1500;
        var time = Clocks.WallAtSampleNow();
        await using var emulator = await EmulatorServer.StartAsync(new EmulatorOptions { Fixture = EntitlementStates.ManyCustomers(Customers), Time = time });
        await using var sidecar = await SidecarHost.StartAsync(
            SidecarHost.UpstreamEnv(
                emulator,
                ("WS_ENABLED", "false"),
                ("CACHE_FRESHNESS_SECS", "3600"),
                ("CACHE_MAX_SIZE_BYTES", (8 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("LOG_LEVEL", "warn")),
            time);

        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < Customers; i++)
            {
                var r = await sidecar.Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = $"customer-{i:D5}", FeatureId = "feature-seats" });
                Assert.False(r.IsFallback);
                Assert.Equal(i, r.Entitlement.Value);
            }
        }

        var hot = sidecar.App.Cache.Hot;
        Assert.True(hot.Evictions > 0, "the hot tier should have evicted under an 8 MiB budget");
        Assert.True(hot.Bytes <= hot.BudgetBytes);
        var status = sidecar.App.Status;
        Assert.True(status.PersistentMemoryBytes > 0);
        Assert.True(status.HotBudgetBytes + status.PersistentMemoryBytes <= 8 << 20, $"hot {status.HotBudgetBytes} + FASTER {status.PersistentMemoryBytes} over the budget");
        Assert.Equal(Customers, emulator.Counters.EdgeRequests);
        var metrics = await sidecar.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("tier=\"faster\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoSidecarsSharingRedis_ConcurrentMiss_OneEdgeFetch()
    {
        await using var redis = await RedisServer.StartAsync();
        var time = Clocks.WallAtSampleNow();
        await using var emulator = await EmulatorServer.StartAsync(EmulatorFixture.SampleOptions(time: time) with { EdgeLatency = TimeSpan.FromMilliseconds(300) });
        // Checks wait for the slow Edge here (the miss budget has its own tests): every answer must be the real one.
        Dictionary<string, string> Env() => SidecarHost.UpstreamEnv(emulator, SidecarHost.SharedRedis(redis, ("REDIS_TIMEOUT_MS", "5000"), ("ENTITLEMENTS_MISS_BUDGET_MS", "60000")));
        await using var a = await SidecarHost.StartAsync(Env(), time);
        await using var b = await SidecarHost.StartAsync(Env(), time);

        var calls = Enumerable.Range(0, 50).SelectMany(_ => new[]
        {
            a.Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" }).ResponseAsync,
            b.Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" }).ResponseAsync,
        });
        var results = await Task.WhenAll(calls);

        Assert.All(results, r => Assert.True(r.HasAccess && !r.IsFallback));
        Assert.Equal(1, emulator.Counters.EdgeRequestsByCustomer.GetValueOrDefault("acme"));
    }

    [Fact]
    public async Task RedisStoppedMidTest_NoFailedChecks_RecoversWhenBack()
    {
        await using var redis = await RedisServer.StartAsync();
        var time = Clocks.WallAtSampleNow();
        await using var emulator = await EmulatorFixture.StartSampleAsync(time: time);
        await using var sidecar = await SidecarHost.StartAsync(SidecarHost.UpstreamEnv(emulator, SidecarHost.SharedRedis(redis)), time);
        var client = sidecar.Client;
        Assert.True((await client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" })).HasAccess);

        await redis.StopAsync();
        var cached = await client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });
        var missWhileDown = await client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "globex", FeatureId = "feature-seats" });
        await redis.StartAsync();
        await Eventually.ValueAsync(() => sidecar.Http.GetStringAsync(new Uri("/readyz", UriKind.Relative)), s => s.Contains("\"redis\":\"connected\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        var missAfter = await client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "initech", FeatureId = "feature-sso" });

        Assert.True(cached.HasAccess && !cached.IsFallback);
        Assert.False(missWhileDown.IsFallback);
        Assert.Equal(3, missWhileDown.Entitlement.Value);
        Assert.True(missAfter.HasAccess && !missAfter.IsFallback);
    }
}
