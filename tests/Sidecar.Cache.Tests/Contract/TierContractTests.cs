using Sidecar.Cache.Faster;
using Sidecar.Cache.Tests.Faster;
using Sidecar.Cache.Tests.Redis;
using Sidecar.Testing;

namespace Sidecar.Cache.Tests.Contract;

/// <summary>The tier contract (guards, usage read-modify-write, remove) on the FASTER tier.</summary>
public sealed class FasterTierContractTests : SnapshotTierContract
{
    private readonly TempDirectory _dir = new("sidecar-faster-");

    protected override int? OlderEntitlementsDroppedEvent => 2110;

    protected override async Task<ISnapshotTier> OpenTierAsync(CapturingLogger logger) =>
        await FasterTier.OpenAsync(FasterTierTests.TinyOptions(_dir.Path), logger, TimeProvider.System, CancellationToken.None);

    protected override ValueTask DisposeResourcesAsync()
    {
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The tier contract on the Redis tier (a real redis-server; each test has its own key prefix).</summary>
public sealed class RedisTierContractTests(RedisServerFixture fixture) : SnapshotTierContract, IClassFixture<RedisServerFixture>
{
    private RedisTestKit? _kit;

    protected override int? OlderEntitlementsDroppedEvent => 2208;

    protected override int? UsageForUnknownCustomerSkippedEvent => 2209;

    // Redis answers FetchedAt as the time of the read, and has no usage key (so no usage timestamp) for unmetered features.
    protected override bool StoresEverySnapshotField => false;

    protected override async Task<ISnapshotTier> OpenTierAsync(CapturingLogger logger)
    {
        _kit = await RedisTestKit.CreateAsync(fixture.Server);
        return await _kit.TierAsync(logger: logger);
    }

    protected override async ValueTask DisposeResourcesAsync()
    {
        if (_kit is not null)
        {
            await _kit.DisposeAsync();
        }
    }
}

/// <summary>The tier contract on the in-process hot tier, through the kit's adapter (which also checks the hot tier's return values).</summary>
public sealed class HotTierContractTests : SnapshotTierContract
{
    protected override Task<ISnapshotTier> OpenTierAsync(CapturingLogger logger) => Task.FromResult<ISnapshotTier>(new HotTierAdapter());
}
