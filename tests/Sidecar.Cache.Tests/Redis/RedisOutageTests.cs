using Microsoft.Extensions.Logging;
using Sidecar.Cache.Redis;
using Sidecar.Core.Model;
using Sidecar.Testing;
using static Sidecar.Cache.Tests.Redis.RedisTestKit;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Cache.Tests.Redis;

/// <summary>Redis going away and coming back (stigg-behaviour §7.7, DESIGN decision 3). Each test owns its server.</summary>
public sealed class RedisOutageTests
{
    private const long Version = 1_746_000_000_000;
    private const string Password = "s3cret-Redis-pw";

    // A hang guard, not a performance threshold: the operations must return, however long they take below this.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReconnectDeadline = TimeSpan.FromSeconds(30);

    // Short, to exercise the bound; above the 250 ms default only so a loaded build machine does not turn the
    // healthy phases of these tests into timeouts.
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(1);
    private static readonly CustomerKey Acme = new("acme", null);

    [Fact]
    public async Task Connect_WrongPassword_LoggedAsRefusedCredentialsNotAsUnreachable()
    {
        await using var server = await RedisServer.StartAsync(Password);
        await using var kit = await CreateAsync(server, Password);
        var logger = new CapturingLogger();
        var options = kit.Options(operationTimeout: OperationTimeout) with { Password = "not-the-password", ConnectTimeout = TimeSpan.FromSeconds(2) };

        await using var connection = await RedisConnection.ConnectAsync(options, logger, TimeProvider.System, CancellationToken.None);

        Assert.False(connection.IsConnected);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 2228);
        Assert.DoesNotContain(logger.Entries, e => e.EventId.Id == 2201);
        Assert.DoesNotContain(logger.Entries, e => e.FullText.Contains("not-the-password", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tier_RedisKilledThenRestarted_AnswersMissesWithoutThrowingThenRecovers()
    {
        await using var server = await RedisServer.StartAsync(Password);
        await using var kit = await CreateAsync(server, Password);
        var connection = await kit.ConnectAsync(operationTimeout: OperationTimeout);
        var tier = new RedisTier(connection);
        var coordinator = new RedisFetchCoordinator(connection, tier, TimeSpan.FromSeconds(10.5));
        await Eventually.TrueAsync(() => WriteThenReadAsync(tier, Version), ReconnectDeadline, "a write and read before the outage");

        await server.StopAsync();

        Assert.Null(await tier.ReadAsync(Acme, CancellationToken.None).AsTask().WaitAsync(Guard));
        await tier.WriteAsync(Sample(Acme, Version + 1), CancellationToken.None).AsTask().WaitAsync(Guard);
        await tier.WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 1, null, null, Version), CancellationToken.None).AsTask().WaitAsync(Guard);
        await tier.RemoveAsync(Acme, CancellationToken.None).AsTask().WaitAsync(Guard);
        Assert.Null(await tier.ReadAsync(Acme, CancellationToken.None).AsTask().WaitAsync(Guard));

        // DESIGN decision 3: no coordination possible, so the caller's fetch runs directly.
        var fetches = 0;
        var fetched = await coordinator.FetchOnceAsync(
            Acme,
            _ =>
            {
                Interlocked.Increment(ref fetches);
                return Task.FromResult(Sample(Acme, Version + 2));
            },
            CancellationToken.None).WaitAsync(Guard);
        Assert.Equal(1, fetches);
        Assert.Equal(Version + 2, fetched.EntitlementsTimestamp);

        await server.StartAsync();
        await Eventually.TrueAsync(() => tier.IsConnected, ReconnectDeadline, "the tier to reconnect");

        // The restarted server is empty (no persistence): the tier writes and reads again. A single round trip may
        // still exceed the short bound on a loaded machine (answered as a miss by design), hence the retry loop.
        await Eventually.TrueAsync(() => WriteThenReadAsync(tier, Version + 3), ReconnectDeadline, "a write and read after the restart");
        Assert.Equal("1746000000003", await kit.GetAsync("c_acme#timestamp"));

        Assert.Contains(kit.Logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.DoesNotContain(kit.Logger.Entries, e => e.Message.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ConnectAsync_RedisNotRunning_StartsDisconnectedAndConnectsWhenRedisAppears()
    {
        // A port a server held a moment ago: nothing listens there now, and the server comes back on it later.
        await using var server = await RedisServer.StartAsync();
        await server.StopAsync();
        using var logs = new VerifyNoErrorsScope();
        var logger = logs.Logger;
        var options = new RedisTierOptions
        {
            EnvironmentPrefix = "outage",
            Host = "127.0.0.1",
            Port = server.Port,
            ConnectTimeout = TimeSpan.FromMilliseconds(500),
            OperationTimeout = OperationTimeout,
        };

        await using var connection = await RedisConnection.ConnectAsync(options, logger, TimeProvider.System, CancellationToken.None).WaitAsync(Guard);
        var tier = new RedisTier(connection);

        Assert.False(connection.IsConnected);
        Assert.False(tier.IsConnected);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 2201);
        Assert.Null(await tier.ReadAsync(Acme, CancellationToken.None).AsTask().WaitAsync(Guard));
        await tier.WriteAsync(Sample(Acme, Version), CancellationToken.None).AsTask().WaitAsync(Guard);

        await server.StartAsync();
        await Eventually.TrueAsync(() => tier.IsConnected, ReconnectDeadline, "the tier to connect");

        await Eventually.TrueAsync(() => WriteThenReadAsync(tier, Version), ReconnectDeadline, "a write and read once connected");
    }

    private static async Task<bool> WriteThenReadAsync(RedisTier tier, long version)
    {
        await tier.WriteAsync(Sample(Acme, version), CancellationToken.None);
        return (await tier.ReadAsync(Acme, CancellationToken.None))?.EntitlementsTimestamp == version;
    }

    [Fact]
    public async Task ConnectAsync_InvalidOptions_Throws()
    {
        var options = new RedisTierOptions { EnvironmentPrefix = "p", KeysTtlSeconds = 0 };

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => RedisConnection.ConnectAsync(options, new CapturingLogger(), TimeProvider.System, CancellationToken.None));
    }
}
