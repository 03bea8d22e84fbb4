using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sidecar.Cache.Hot;
using Sidecar.Cache.Internal;
using Sidecar.Core;
using Sidecar.Core.Model;

namespace Sidecar.Cache;

/// <summary>
/// The read-through cache, the heart of the sidecar. A check reads the hot tier (<see cref="TryGetServable"/>: no
/// lock, no await). A miss (<see cref="LoadAsync"/>) reads the persistent tiers in order (FASTER, then Redis), then
/// asks the <see cref="IEntitlementsSource"/> through the <see cref="IFetchCoordinator"/> — once per key however
/// many callers wait. The answer is returned as soon as the hot tier holds it; the persistent tiers are written back
/// after it. Every write is timestamp-guarded by the tiers themselves; entries older than the freshness window (while
/// no event stream keeps them current) are answered and revalidated in the background.
/// </summary>
public sealed class TieredEntitlementCache : IAsyncDisposable
{
    /// <summary>How many background revalidations may run at once (a reconnect must not become a miss storm).</summary>
    private const int MaxConcurrentRevalidations = 8;

    /// <summary>How long shutdown waits for write-backs still running before the tiers close.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>During an outage every miss fails: one line per interval, with the count of those not written.</summary>
    private static readonly TimeSpan FailureLogInterval = TimeSpan.FromSeconds(10);

    private readonly HotTier _hot;
    private readonly IReadOnlyList<ISnapshotTier> _tiers;
    private readonly IEntitlementsSource _source;
    private readonly IFetchCoordinator _coordinator;
    private readonly CacheMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly long _freshnessMs;
    private readonly bool _refetchOnEveryCheck;
    private readonly SingleFlight<CustomerKey, CustomerSnapshot?> _misses;
    private readonly ConcurrentDictionary<CustomerKey, byte> _revalidating = new();
    private readonly SemaphoreSlim _revalidationSlots = new(MaxConcurrentRevalidations);
    private readonly ConcurrentDictionary<Task, byte> _background = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly LogThrottle _failureLogs;
    private long _validSince;
    private volatile bool _eventsLive;

    public TieredEntitlementCache(
        TieredCacheOptions options,
        HotTier hot,
        IReadOnlyList<ISnapshotTier> tiers,
        IEntitlementsSource source,
        IFetchCoordinator coordinator,
        ILogger logger,
        TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _hot = hot;
        _tiers = tiers;
        _source = source;
        _coordinator = coordinator;
        _logger = logger;
        _time = time;
        _freshnessMs = (long)options.FreshnessWindow.TotalMilliseconds;
        _refetchOnEveryCheck = options.RefetchOnEveryCheck;
        _misses = new SingleFlight<CustomerKey, CustomerSnapshot?>(workToken: _stopping.Token);
        _metrics = new CacheMetrics(hot);
        _failureLogs = new LogThrottle(time, FailureLogInterval);
    }

    public HotTier Hot => _hot;

    public IEntitlementsSource Source => _source;

    public long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Whether an event stream delivers changes now. While it does not, entries older than the freshness window are
    /// revalidated in the background.
    /// </summary>
    public bool EventsLive
    {
        get => _eventsLive;
        set => _eventsLive = value;
    }

    /// <summary>
    /// The hit path. True when the hot tier holds a snapshot that may be answered now: present and not past its
    /// <c>validUntil</c>. A snapshot that is merely old is answered and refreshed in the background.
    /// </summary>
    public bool TryGetServable(CustomerKey key, long nowMs, out CustomerSnapshot snapshot)
    {
        if (!_hot.TryGet(key, out snapshot) || snapshot.IsExpired(nowMs) || _refetchOnEveryCheck)
        {
            return false;
        }

        _metrics.Hit(CacheMetrics.HotTierName);
        if (NeedsRevalidation(snapshot, nowMs))
        {
            ScheduleRevalidation(key);
        }

        return true;
    }

    /// <summary>
    /// The miss path, for a key <see cref="TryGetServable"/> did not answer: persistent tiers, then the source. Null
    /// when no data can be had (the caller answers the fallback); a stale snapshot when the source failed but one is held.
    /// </summary>
    public Task<CustomerSnapshot?> LoadAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        _metrics.Miss();
        return _misses.RunAsync(key, (k, ct) => LoadFromTiersOrSourceAsync(k, ct), cancellationToken);
    }

    /// <summary>
    /// The miss path bounded by how long the caller may wait (its gRPC deadline, or the miss budget): past
    /// <paramref name="wait"/> it answers what the hot tier holds however old, or null (the caller answers the
    /// fallback), while the fetch goes on — still one per key — and fills the cache for the next check.
    /// <paramref name="wait"/> is real elapsed time (it comes from a caller's deadline), not the data clock.
    /// </summary>
    public async Task<CustomerSnapshot?> LoadAsync(CustomerKey key, TimeSpan wait, CancellationToken cancellationToken)
    {
        var load = LoadAsync(key, cancellationToken);
        if (load.IsCompleted || wait == Timeout.InfiniteTimeSpan)
        {
            return await load.ConfigureAwait(false);
        }

        try
        {
            return await load.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _metrics.MissTimedOut();
            return _hot.TryGet(key, out var held) ? held : null;
        }
    }

    /// <summary>The hot tier if it can answer, else the miss path: for callers outside the check path.</summary>
    public Task<CustomerSnapshot?> GetAsync(CustomerKey key, CancellationToken cancellationToken) =>
        TryGetServable(key, NowMs, out var hit) ? Task.FromResult<CustomerSnapshot?>(hit) : LoadAsync(key, cancellationToken);

    /// <summary>
    /// <c>ReloadEntitlements</c>: a fresh read from the source (read-after-write), bypassing every cache, stored like a
    /// miss. Null when the source has no data; throws <see cref="SourceUnavailableException"/> when it cannot answer.
    /// </summary>
    public async Task<CustomerSnapshot?> ReloadAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        try
        {
            return await FetchAndHoldAsync(key, fresh: true, coordinated: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFetchFailure(key, ex);
            throw ex as SourceUnavailableException ?? new SourceUnavailableException(ex.Message, ex);
        }
    }

    /// <summary>
    /// Whatever is held for <paramref name="key"/> in any tier, however old, without asking the source: the cached
    /// truth, for answers that must not wait on an unreachable source.
    /// </summary>
    public async Task<CustomerSnapshot?> GetHeldAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        if (_hot.TryGet(key, out var held))
        {
            return held;
        }

        foreach (var tier in _tiers)
        {
            if (await tier.ReadAsync(key, cancellationToken).ConfigureAwait(false) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>A whole snapshot pushed by the source (an event, a file reload); written to every tier before returning.</summary>
    public async ValueTask ApplySnapshotAsync(CustomerSnapshot snapshot)
    {
        var held = _hot.Set(snapshot);
        foreach (var tier in _tiers)
        {
            await tier.WriteAsync(held, _stopping.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Many whole snapshots at once (a file load): each held in the hot tier, timestamp-guarded and within the budget as
    /// <see cref="ApplySnapshotAsync"/> holds one, and written to every tier before returning. Without persistent tiers
    /// (file mode) it is a plain loop over the hot tier, with no await per customer.
    /// </summary>
    public async ValueTask ApplySnapshotsAsync(IEnumerable<CustomerSnapshot> snapshots)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        if (snapshots is IReadOnlyCollection<CustomerSnapshot> collection)
        {
            _hot.Reserve(collection.Count);
        }

        if (_tiers.Count == 0)
        {
            // The hot tier alone (a file's customers): each write stands alone and Set is thread-safe, so a million of
            // them are spread over the cores.
            Parallel.ForEach(snapshots, snapshot => _hot.Set(snapshot));
            return;
        }

        foreach (var snapshot in snapshots)
        {
            await ApplySnapshotAsync(snapshot).ConfigureAwait(false);
        }
    }

    /// <summary>An absolute usage value (an event, a usage-report result); skipped for customers not held anywhere.</summary>
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

    /// <summary>Forgets a customer in every tier (Stigg's purge; a customer gone from the entitlements file).</summary>
    public async ValueTask RemoveAsync(CustomerKey key)
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

    /// <summary>Reports usage through the source and holds the absolute usage it answers (stigg-behaviour §8.2).</summary>
    public async Task<IReadOnlyList<UsageReportResult>> ReportUsageAsync(IReadOnlyList<UsageReport> reports, CancellationToken cancellationToken)
    {
        var results = await _source.ReportUsageAsync(reports, this, cancellationToken).ConfigureAwait(false);
        await ApplyUsageResultsAsync(results).ConfigureAwait(false);
        return results;
    }

    /// <summary>
    /// Holds the absolute usage of usage-report results (stigg-behaviour §8.2): the feature's usage and, when present,
    /// the credit balance, each timestamp-guarded. Also for results delivered later (the usage outbox).
    /// </summary>
    public async ValueTask ApplyUsageResultsAsync(IReadOnlyList<UsageReportResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var now = NowMs;
        foreach (var result in results)
        {
            var key = new CustomerKey(result.CustomerId, result.ResourceId);
            if (result.ToFeatureUpdate(now) is { } featureUpdate)
            {
                await ApplyUsageAsync(key, featureUpdate).ConfigureAwait(false);
            }

            if (result.Credit is { } credit)
            {
                await ApplyUsageAsync(key, credit.ToUpdate(now)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reports raw events through the source.</summary>
    public Task ReportEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken) =>
        _source.ReportEventsAsync(events, cancellationToken);

    /// <summary>Stops revalidating and waits (bounded) for write-backs, so the tiers can close after it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_background.Keys).WaitAsync(DrainTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.WriteBacksAbandoned(_logger, _background.Count, $"not finished within the {DrainTimeout.TotalSeconds:0.#} s shutdown budget");
        }

        _stopping.Dispose();
        _revalidationSlots.Dispose();
        _metrics.Dispose();
    }

    private bool NeedsRevalidation(CustomerSnapshot snapshot, long nowMs)
    {
        if (_source.PushesAllChanges)
        {
            return false;
        }

        return snapshot.FetchedAt < Interlocked.Read(ref _validSince)
            || (!_eventsLive && nowMs - snapshot.FetchedAt > _freshnessMs);
    }

    private async Task<CustomerSnapshot?> LoadFromTiersOrSourceAsync(CustomerKey key, CancellationToken cancellationToken)
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

            _metrics.Hit(_tiers[i].Name);
            var held = _hot.Set(found);
            WriteBack(held, tierCount: i);
            if (NeedsRevalidation(held, now))
            {
                ScheduleRevalidation(key);
            }

            return held;
        }

        try
        {
            return await FetchAndHoldAsync(key, fresh: false, coordinated: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFetchFailure(key, ex);
            return _hot.TryGet(key, out var held) ? held : stale;
        }
    }

    private void LogFetchFailure(CustomerKey key, Exception ex)
    {
        _metrics.SourceFailure();
        if (_failureLogs.TryEnter(out var suppressed))
        {
            Log.FetchFailed(_logger, key.CustomerId, key.ResourceId, ex.Message, suppressed);
        }
    }

    /// <summary>Fetches from the source, holds the result in the hot tier and writes it back to the others afterwards.</summary>
    private async Task<CustomerSnapshot?> FetchAndHoldAsync(CustomerKey key, bool fresh, bool coordinated, CancellationToken cancellationToken)
    {
        CustomerSnapshot? fetched;
        if (coordinated && _coordinator != IFetchCoordinator.None)
        {
            fetched = await _coordinator.FetchOnceAsync(
                key,
                async ct => await _source.FetchAsync(key, fresh, ct).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"the {_source.Mode} source holds no data to share"),
                cancellationToken).ConfigureAwait(false);
        }
        else
        {
            fetched = await _source.FetchAsync(key, fresh, cancellationToken).ConfigureAwait(false);
        }

        if (fetched is null)
        {
            return null;
        }

        _metrics.SourceFetch();
        var held = _hot.Set(fetched);
        WriteBack(held, _tiers.Count);
        return held;
    }

    /// <summary>
    /// Writes <paramref name="held"/> to the first <paramref name="tierCount"/> persistent tiers after the answer. The
    /// tier the coordinator shares already has it (it stores before it tells the other sidecars).
    /// </summary>
    private void WriteBack(CustomerSnapshot held, int tierCount)
    {
        if (tierCount == 0 || (tierCount == 1 && _tiers[0] == _coordinator.SharedTier))
        {
            return;
        }

        Track(WriteBackAsync(held, tierCount));
    }

    private async Task WriteBackAsync(CustomerSnapshot held, int tierCount)
    {
        await Task.Yield(); // the caller answers first
        for (var i = 0; i < tierCount; i++)
        {
            var tier = _tiers[i];
            if (tier == _coordinator.SharedTier)
            {
                continue;
            }

            try
            {
                await tier.WriteAsync(held, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Tiers log their own backend trouble; this is the unexpected kind. The hot tier still holds the entry.
                Log.WriteBackFailed(_logger, tier.Name, held.Key.CustomerId, ex.Message);
            }
        }
    }

    private void Track(Task task)
    {
        if (task.IsCompleted || !_background.TryAdd(task, 0))
        {
            return;
        }

        _ = task.ContinueWith(
            static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _),
            _background,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void ScheduleRevalidation(CustomerKey key)
    {
        if (!_revalidating.TryAdd(key, 0))
        {
            return;
        }

        Track(RevalidateAsync(key));
    }

    private async Task RevalidateAsync(CustomerKey key)
    {
        try
        {
            await _revalidationSlots.WaitAsync(_stopping.Token).ConfigureAwait(false);
            try
            {
                await _misses.RunAsync(key, (k, ct) => FetchAndHoldAsync(k, fresh: false, coordinated: false, ct), _stopping.Token).ConfigureAwait(false);
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
