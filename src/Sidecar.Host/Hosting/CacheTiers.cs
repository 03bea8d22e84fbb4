using Microsoft.Extensions.Logging;
using Sidecar.Cache;
using Sidecar.Cache.Faster;
using Sidecar.Cache.Redis;
using Sidecar.Host.Configuration;
using Sidecar.Host.Diagnostics;

namespace Sidecar.Host.Hosting;

/// <summary>
/// The persistent tiers below the hot tier, in the order a miss reads them — FASTER (embedded), then Redis (shared,
/// with its cross-sidecar fetch coordinator) — opened before the sidecar serves and closed after the cache.
/// </summary>
internal sealed class CacheTiers(SidecarSettings settings, SidecarStatus status, SidecarMetrics metrics, ILoggerFactory loggers, TimeProvider time) : IAsyncDisposable
{
    private readonly List<ISnapshotTier> _all = [];

    public IReadOnlyList<ISnapshotTier> All => _all;

    public FasterTier? Faster { get; private set; }

    public RedisConnection? Redis { get; private set; }

    public IFetchCoordinator Coordinator { get; private set; } = IFetchCoordinator.None;

    /// <summary>Recovers FASTER from its checkpoint and connects to Redis (an unreachable Redis is logged, not thrown).</summary>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        if (settings.Faster is { } fasterOptions)
        {
            // A read-only filesystem passes: the tier then runs without persistence, with one warning.
            StartupFailure.EnsureWritableDirectory(fasterOptions.Directory);
            Faster = await FasterTier.OpenAsync(fasterOptions, loggers.CreateLogger("Sidecar.Faster"), time, cancellationToken).ConfigureAwait(false);
            _all.Add(Faster);
            status.Observe(Faster);
            metrics.Observe(Faster, () => status.Persistence);
            status.PersistentMemoryBytes = SidecarSettings.FasterMemoryBytes(fasterOptions);
        }

        if (settings.Redis is { } redisOptions)
        {
            Redis = await RedisConnection.ConnectAsync(redisOptions, loggers.CreateLogger("Sidecar.Redis"), time, cancellationToken).ConfigureAwait(false);
            var tier = new RedisTier(Redis);
            _all.Add(tier);

            // A waiting sidecar gives the fetching one Stigg's budget plus 500 ms before fetching itself.
            Coordinator = new RedisFetchCoordinator(Redis, tier, settings.Stigg!.EntitlementsTimeout + TimeSpan.FromMilliseconds(500));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var tier in _all)
        {
            await tier.DisposeAsync().ConfigureAwait(false);
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync().ConfigureAwait(false);
        }
    }
}
