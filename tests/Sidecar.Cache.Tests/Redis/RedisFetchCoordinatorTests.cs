using Sidecar.Cache.Redis;
using Sidecar.Core.Model;
using StackExchange.Redis;
using Sidecar.Testing;
using static Sidecar.Cache.Tests.Redis.RedisTestKit;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Cache.Tests.Redis;

/// <summary>The cross-sidecar single-flight (stigg-behaviour §7.6), with one connection per simulated sidecar.</summary>
public sealed class RedisFetchCoordinatorTests(RedisServerFixture fixture) : IClassFixture<RedisServerFixture>
{
    private const long Version = 1_746_000_000_000;
    private const int WaitingEvent = 2220;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan EntitlementsWait = TimeSpan.FromMilliseconds(10_500);
    private static readonly CustomerKey Acme = new("acme", null);

    [Fact]
    public async Task FetchOnceAsync_TwoSidecarsMissTogether_FetchOnceAndBothReturnTheData()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var (loggerA, loggerB) = (kit.NewLogger(), kit.NewLogger());
        var (connectionA, connectionB) = (await kit.ConnectAsync(logger: loggerA), await kit.ConnectAsync(logger: loggerB));
        var (tierA, tierB) = (new RedisTier(connectionA), new RedisTier(connectionB));
        var coordinatorA = new RedisFetchCoordinator(connectionA, tierA, EntitlementsWait);
        var coordinatorB = new RedisFetchCoordinator(connectionB, tierB, EntitlementsWait);
        var notifications = await kit.Raw.GetSubscriber().SubscribeAsync(RedisChannel.Literal(kit.K("refetchEntityEntitlementsAfterCacheMiss:acme")));

        var fetches = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<CustomerSnapshot> Fetch(CancellationToken ct)
        {
            Interlocked.Increment(ref fetches);
            await release.Task.WaitAsync(ct);
            return Sample(Acme, Version);
        }

        // Both miss at once; whichever loses the lock reports that it waits for the other's notification. The winner
        // stores what it fetched in Redis itself before it notifies.
        var first = Task.Run(() => coordinatorA.FetchOnceAsync(Acme, Fetch, CancellationToken.None));
        var second = Task.Run(() => coordinatorB.FetchOnceAsync(Acme, Fetch, CancellationToken.None));
        await Task.WhenAny(loggerA.WaitForEventAsync(WaitingEvent, Guard), loggerB.WaitForEventAsync(WaitingEvent, Guard)).Unwrap();
        Assert.False(await kit.Db.KeyExistsAsync(kit.K("c_acme"))); // nothing stored before the winner's fetch completes
        release.SetResult();

        var results = await Task.WhenAll(first, second).WaitAsync(Guard);

        Assert.Equal(1, Volatile.Read(ref fetches));
        Assert.All(results, r =>
        {
            Assert.Equal(Acme, r.Key);
            Assert.Equal(Version, r.EntitlementsTimestamp);
            Assert.Equal(4, r.Features.Count);
            Assert.Equal(250, r.Features[0].CurrentUsage);
        });
        Assert.Equal("{}", (string?)(await notifications.ReadAsync().AsTask().WaitAsync(Guard)).Message);
        Assert.False(await kit.Db.KeyExistsAsync(kit.K("refetchEntityEntitlementsAfterCacheMiss-acme")));
        loggerA.AssertNoWarningsOrErrors();
        loggerB.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task FetchOnceAsync_WinnerFetchFails_PublishesErrorAndWaiterThrowsRemoteError()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var loggerB = kit.NewLogger();
        var connectionA = await kit.ConnectAsync();
        var connectionB = await kit.ConnectAsync(logger: loggerB);
        var key = new CustomerKey("acme", "ws-1");
        var notifications = await kit.Raw.GetSubscriber().SubscribeAsync(RedisChannel.Literal(kit.K("refetchEntityEntitlementsAfterCacheMiss:acme:ws-1")));
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiterFetches = 0;

        var winner = new RedisFetchCoordinator(connectionA, new RedisTier(connectionA), EntitlementsWait).FetchOnceAsync(
            key,
            async ct =>
            {
                started.SetResult();
                await release.Task.WaitAsync(ct);
                throw new InvalidOperationException("edge down");
            },
            CancellationToken.None);
        await started.Task.WaitAsync(Guard);
        Assert.True(await kit.Db.KeyExistsAsync(kit.K("refetchEntityEntitlementsAfterCacheMiss-acme:ws-1")));
        var waiter = new RedisFetchCoordinator(connectionB, new RedisTier(connectionB), EntitlementsWait).FetchOnceAsync(
            key,
            _ =>
            {
                Interlocked.Increment(ref waiterFetches);
                return Task.FromResult(Sample(key, Version));
            },
            CancellationToken.None);
        await loggerB.WaitForEventAsync(WaitingEvent, Guard);
        release.SetResult();

        var original = await Assert.ThrowsAsync<InvalidOperationException>(() => winner.WaitAsync(Guard));
        var remote = await Assert.ThrowsAsync<RedisRemoteFetchException>(() => waiter.WaitAsync(Guard));

        Assert.Equal("edge down", original.Message);
        Assert.Equal("A remote execution encountered error: edge down", remote.Message);
        Assert.Equal(0, waiterFetches);
        Assert.Equal("""{"error":"edge down"}""", (string?)(await notifications.ReadAsync().AsTask().WaitAsync(Guard)).Message);
        Assert.False(await kit.Db.KeyExistsAsync(kit.K("refetchEntityEntitlementsAfterCacheMiss-acme:ws-1")));
    }

    [Fact]
    public async Task FetchOnceAsync_LockHeldAndNoNotification_FetchesItselfAfterTheWait()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var connection = await kit.ConnectAsync();

        // A sidecar that took the lock and then died: nobody will publish.
        Assert.True(await kit.Db.StringSetAsync(kit.K("refetchEntityEntitlementsAfterCacheMiss-acme"), "dead-sidecar", TimeSpan.FromSeconds(30)));
        var fetches = 0;

        var result = await new RedisFetchCoordinator(connection, new RedisTier(connection), TimeSpan.FromMilliseconds(300)).FetchOnceAsync(
            Acme,
            _ =>
            {
                Interlocked.Increment(ref fetches);
                return Task.FromResult(Sample(Acme, Version));
            },
            CancellationToken.None).WaitAsync(Guard);

        Assert.Equal(1, fetches);
        Assert.Equal(Version, result.EntitlementsTimestamp);
        Assert.Contains(kit.Logger.Entries, e => e.EventId.Id == 2222);
        Assert.Equal("dead-sidecar", await kit.GetAsync("refetchEntityEntitlementsAfterCacheMiss-acme")); // not ours to release
    }

    [Fact]
    public async Task FetchOnceAsync_NotifiedButNothingStored_FetchesItself()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var loggerB = kit.NewLogger();
        var connectionA = await kit.ConnectAsync();
        var connectionB = await kit.ConnectAsync(logger: loggerB);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fetches = 0;

        // The winner's write lands where the waiter cannot read it (say it was dropped), then it notifies success.
        await using var elsewhere = await CreateAsync(fixture.Server);
        var lostWrites = new RedisTier(await elsewhere.ConnectAsync());
        var winner = new RedisFetchCoordinator(connectionA, lostWrites, EntitlementsWait).FetchOnceAsync(
            Acme,
            async ct =>
            {
                Interlocked.Increment(ref fetches);
                started.SetResult();
                await release.Task.WaitAsync(ct);
                return Sample(Acme, Version);
            },
            CancellationToken.None);
        await started.Task.WaitAsync(Guard);
        var waiter = new RedisFetchCoordinator(connectionB, new RedisTier(connectionB), EntitlementsWait).FetchOnceAsync(
            Acme,
            _ =>
            {
                Interlocked.Increment(ref fetches);
                return Task.FromResult(Sample(Acme, Version + 1));
            },
            CancellationToken.None);
        await loggerB.WaitForEventAsync(WaitingEvent, Guard);
        release.SetResult();

        Assert.Equal(Version, (await winner.WaitAsync(Guard)).EntitlementsTimestamp);
        Assert.Equal(Version + 1, (await waiter.WaitAsync(Guard)).EntitlementsTimestamp);
        Assert.Equal(2, fetches);
        Assert.Contains(loggerB.Entries, e => e.EventId.Id == 2226);
    }

    [Fact]
    public async Task FetchOnceAsync_SlowFetch_KeepsExtendingTheLock()
    {
        await using var kit = await CreateAsync(fixture.Server);
        var connection = await kit.ConnectAsync();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lockKey = kit.K("refetchEntityEntitlementsAfterCacheMiss-acme");

        var fetch = new RedisFetchCoordinator(connection, new RedisTier(connection), EntitlementsWait).FetchOnceAsync(
            Acme,
            async ct =>
            {
                started.SetResult();
                await release.Task.WaitAsync(ct);
                return Sample(Acme, Version);
            },
            CancellationToken.None);
        await started.Task.WaitAsync(Guard);

        // Between extensions the TTL only runs down, so seeing it rise well above its lowest value so far proves the
        // lock was pushed back out while the fetch was still running.
        var lowest = TimeSpan.MaxValue;
        await Eventually.TrueAsync(
            async () =>
            {
                if (await kit.Db.KeyTimeToLiveAsync(lockKey) is not { } ttl)
                {
                    return false;
                }

                lowest = ttl < lowest ? ttl : lowest;
                return ttl > lowest + TimeSpan.FromMilliseconds(300);
            },
            Guard,
            "the lock to be extended");
        release.SetResult();

        await fetch.WaitAsync(Guard);
        Assert.False(await kit.Db.KeyExistsAsync(lockKey));
    }
}
