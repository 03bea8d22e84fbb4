using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sidecar.Cache;
using Sidecar.Cache.Hot;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Host.Diagnostics;
using Sidecar.Upstream;

namespace Sidecar.Host.Engine;

/// <summary>
/// The read-through cache of the sidecar: hot tier → persistent tiers (FASTER, then Redis) → the source, with
/// single-flight misses, timestamp-guarded writes, stale-while-revalidate and background revalidation. A check that
/// hits the hot tier never awaits; everything else happens on the miss path or in the background.
/// </summary>
internal sealed class EntitlementStore : IAsyncDisposable
{
    /// <summary>How many background revalidations may run at once (a reconnect must not become a miss storm).</summary>
    private const int MaxConcurrentRevalidations = 8;

    private readonly HotTier _hot;
    private readonly IReadOnlyList<ISnapshotTier> _tiers;
    private readonly EntitlementsSource? _source;
    private readonly Func<CustomerKey, Func<CancellationToken, Task<CustomerSnapshot>>, CancellationToken, Task<CustomerSnapshot?>>? _coordinate;
    private readonly SingleFlight<CustomerKey, CustomerSnapshot?> _misses = new();
    private readonly ConcurrentDictionary<CustomerKey, byte> _revalidating = new();
    private readonly SemaphoreSlim _revalidationSlots = new(MaxConcurrentRevalidations);
    private readonly SidecarMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly long _freshnessMs;
    private readonly bool _refetchOnEveryCheck;
    private readonly CancellationTokenSource _stopping = new();
    private long _validSince;
    private volatile bool _eventsLive;

    public EntitlementStore(
        HotTier hot,
        IReadOnlyList<ISnapshotTier> tiers,
        EntitlementsSource? source,
        Func<CustomerKey, Func<CancellationToken, Task<CustomerSnapshot>>, CancellationToken, Task<CustomerSnapshot?>>? coordinate,
        TimeSpan freshnessWindow,
        bool refetchOnEveryCheck,
        SidecarMetrics metrics,
        ILogger logger,
        TimeProvider time)
    {
        _hot = hot;
        _tiers = tiers;
        _source = source;
        _coordinate = coordinate;
        _freshnessMs = (long)freshnessWindow.TotalMilliseconds;
        _refetchOnEveryCheck = refetchOnEveryCheck;
        _metrics = metrics;
        _logger = logger;
        _time = time;
    }

    public HotTier Hot => _hot;

    public long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Tells the store whether the event stream is delivering changes now. While it is not, entries older than the
    /// freshness window are revalidated in the background.
    /// </summary>
    public bool EventsLive
    {
        get => _eventsLive;
        set => _eventsLive = value;
    }

    /// <summary>
    /// The hit path. True when a snapshot may be answered from now without waiting: present and not past its
    /// <c>validUntil</c>. A snapshot that is merely old is still answered, and refreshed in the background.
    /// </summary>
    public bool TryGetServable(CustomerKey key, long nowMs, out CustomerSnapshot snapshot)
    {
        if (!_hot.TryGet(key, out snapshot) || snapshot.IsExpired(nowMs) || _refetchOnEveryCheck)
        {
            return false;
        }

        if (NeedsRevalidation(snapshot, nowMs))
        {
            ScheduleRevalidation(key);
        }

        return true;
    }

    /// <summary>
    /// The miss path: persistent tiers, then the source (one fetch per key however many callers wait). Null when no
    /// data can be had (the caller answers with the fallback); a stale snapshot when the source failed but one is held.
    /// </summary>
    public async Task<CustomerSnapshot?> GetAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        var now = NowMs;
        if (TryGetServable(key, now, out var hit))
        {
            return hit;
        }

        _metrics.CacheMiss();
        return await _misses.RunAsync(key, (k, ct) => LoadAsync(k, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>ReloadEntitlements: refetch through the GraphQL API (read-after-write), bypassing every cache.</summary>
    public async Task<CustomerSnapshot?> ReloadAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        if (_source is null)
        {
            return null;
        }

        try
        {
            return await FetchAndStoreAsync(key, skipEdge: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.FetchFailed(_logger, key.CustomerId, key.ResourceId, ex.Message);
            return null;
        }
    }

    /// <summary>An entitlements change pushed by the source (WS event or file reload).</summary>
    public async ValueTask ApplyEntitlementsAsync(CustomerKey key, EntitlementsStateDto state)
    {
        if (state.EntitlementsV2.Count == 0 && string.IsNullOrEmpty(state.AccessDeniedReason))
        {
            // Stigg's rule (§3.3): an empty list with no reason means "forget this customer"; the next check refetches.
            await PurgeAsync(key).ConfigureAwait(false);
            return;
        }

        await StoreAsync(EntitlementsStateMapper.ToSnapshot(key, state, NowMs), CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>An absolute usage value (WS event or usage-report result); skipped for customers not held anywhere.</summary>
    public async ValueTask ApplyUsageAsync(CustomerKey key, UsageUpdate update)
    {
        var updated = _hot.ApplyUsage(key, update);
        foreach (var tier in _tiers)
        {
            if (updated is not null)
            {
                await tier.WriteAsync(updated, _stopping.Token).ConfigureAwait(false);
            }
            else
            {
                await tier.WriteUsageAsync(key, update, _stopping.Token).ConfigureAwait(false);
            }
        }
    }

    public async ValueTask PurgeAsync(CustomerKey key)
    {
        _hot.Remove(key);
        foreach (var tier in _tiers)
        {
            await tier.RemoveAsync(key, _stopping.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Everything held may be out of date (event stream reconnected, package published to all customers): keep
    /// answering from it, and revalidate every hot entry in the background with bounded concurrency. Entries in the
    /// persistent tiers are revalidated when next read.
    /// </summary>
    public void InvalidateAll()
    {
        Interlocked.Exchange(ref _validSince, NowMs);
        foreach (var key in _hot.Keys)
        {
            ScheduleRevalidation(key);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _revalidationSlots.Dispose();
    }

    private bool NeedsRevalidation(CustomerSnapshot snapshot, long nowMs)
    {
        if (_source is null || _source.PushesAllChanges)
        {
            return false;
        }

        return snapshot.FetchedAt < Interlocked.Read(ref _validSince)
            || (!_eventsLive && nowMs - snapshot.FetchedAt > _freshnessMs);
    }

    private async Task<CustomerSnapshot?> LoadAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        var now = NowMs;
        CustomerSnapshot? stale = null;
        for (var i = 0; i < _tiers.Count; i++)
        {
            var found = await _tiers[i].ReadAsync(key, cancellationToken).ConfigureAwait(false);
            if (found is null)
            {
                continue;
            }

            if (found.IsExpired(now) || _refetchOnEveryCheck)
            {
                stale ??= found;
                continue;
            }

            _metrics.TierHit(_tiers[i].Name);
            var held = _hot.Set(found);
            for (var upper = 0; upper < i; upper++)
            {
                await _tiers[upper].WriteAsync(held, cancellationToken).ConfigureAwait(false);
            }

            if (NeedsRevalidation(held, now))
            {
                ScheduleRevalidation(key);
            }

            return held;
        }

        if (_source is null)
        {
            return stale;
        }

        try
        {
            if (_coordinate is not null)
            {
                return await _coordinate(key, ct => FetchAndStoreAsync(key, skipEdge: false, ct), cancellationToken).ConfigureAwait(false);
            }

            return await FetchAndStoreAsync(key, skipEdge: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.FetchFailed(_logger, key.CustomerId, key.ResourceId, ex.Message);
            _metrics.UpstreamFailure();
            if (_hot.TryGet(key, out var held))
            {
                return held;
            }

            return stale;
        }
    }

    private async Task<CustomerSnapshot> FetchAndStoreAsync(CustomerKey key, bool skipEdge, CancellationToken cancellationToken)
    {
        var state = await _source!.FetchAsync(key, skipEdge, cancellationToken).ConfigureAwait(false);
        _metrics.UpstreamFetch();
        return await StoreAsync(EntitlementsStateMapper.ToSnapshot(key, state, NowMs), cancellationToken).ConfigureAwait(false);
    }

    private async Task<CustomerSnapshot> StoreAsync(CustomerSnapshot snapshot, CancellationToken cancellationToken)
    {
        var held = _hot.Set(snapshot);
        foreach (var tier in _tiers)
        {
            await tier.WriteAsync(held, cancellationToken).ConfigureAwait(false);
        }

        return held;
    }

    private void ScheduleRevalidation(CustomerKey key)
    {
        if (_source is null || !_revalidating.TryAdd(key, 0))
        {
            return;
        }

        _ = RevalidateAsync(key);
    }

    private async Task RevalidateAsync(CustomerKey key)
    {
        try
        {
            await _revalidationSlots.WaitAsync(_stopping.Token).ConfigureAwait(false);
            try
            {
                await _misses.RunAsync(key, (k, ct) => FetchAndStoreAsync(k, skipEdge: false, ct)!, _stopping.Token).ConfigureAwait(false);
                _metrics.Revalidated();
            }
            finally
            {
                _revalidationSlots.Release();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Keep serving what we have; the next stale read schedules another attempt.
            Log.RevalidationFailed(_logger, key.CustomerId, key.ResourceId, ex.Message);
        }
        finally
        {
            _revalidating.TryRemove(key, out _);
        }
    }
}
