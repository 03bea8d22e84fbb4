using System.Diagnostics.Metrics;
using Sidecar.Cache.Hot;

namespace Sidecar.Cache;

/// <summary>
/// The cache's instruments, on the sidecar's meter: hits by tier, misses, source fetches and failures,
/// revalidations, and the hot tier's size. Tag values are constants, so recording on the hit path allocates nothing.
/// </summary>
public sealed class CacheMetrics : IDisposable
{
    /// <summary>The meter every instrument of the sidecar is on (the host exports it as Prometheus text).</summary>
    public const string MeterName = "Sidecar.Aot";

    internal const string HotTierName = "hot";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _sourceFetches;
    private readonly Counter<long> _sourceFailures;
    private readonly Counter<long> _revalidations;
    private readonly Counter<long> _missTimeouts;

    internal CacheMetrics(HotTier hot)
    {
        _hits = _meter.CreateCounter<long>("sidecar.cache.hits", description: "Checks answered from a cache tier");
        _misses = _meter.CreateCounter<long>("sidecar.cache.misses", description: "Checks that missed the hot tier");
        _sourceFetches = _meter.CreateCounter<long>("sidecar.upstream.fetches", description: "Entitlement fetches from the source");
        _sourceFailures = _meter.CreateCounter<long>("sidecar.upstream.failures", description: "Entitlement fetches that failed");
        _revalidations = _meter.CreateCounter<long>("sidecar.cache.revalidations", description: "Background revalidations completed");
        _missTimeouts = _meter.CreateCounter<long>("sidecar.cache.miss.timeouts", description: "Misses answered before the fetch finished (caller's deadline or the miss budget)");
        _meter.CreateObservableGauge("sidecar.cache.bytes", () => hot.Bytes, unit: "By", description: "Bytes held by the hot tier");
        _meter.CreateObservableGauge("sidecar.cache.budget", () => hot.BudgetBytes, unit: "By", description: "CACHE_MAX_SIZE_BYTES share of the hot tier");
        _meter.CreateObservableGauge("sidecar.cache.customers", () => hot.Count, description: "Customer entries in the hot tier");
        _meter.CreateObservableCounter("sidecar.cache.evictions", () => hot.Evictions, description: "Customers evicted from the hot tier");
    }

    internal void Hit(string tier) => _hits.Add(1, new KeyValuePair<string, object?>("tier", tier));

    internal void Miss() => _misses.Add(1);

    internal void SourceFetch() => _sourceFetches.Add(1);

    internal void SourceFailure() => _sourceFailures.Add(1);

    internal void Revalidated() => _revalidations.Add(1);

    internal void MissTimedOut() => _missTimeouts.Add(1);

    public void Dispose() => _meter.Dispose();
}
