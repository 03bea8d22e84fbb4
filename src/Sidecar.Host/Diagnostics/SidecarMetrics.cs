using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Sidecar.Host.Diagnostics;

/// <summary>
/// The sidecar's instruments (exported as Prometheus text on METRICS_PORT). Tag values are interned constants so
/// recording on the hot path allocates nothing.
/// </summary>
internal sealed class SidecarMetrics : IDisposable
{
    public const string MeterName = "Sidecar.Aot";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _upstreamFetches;
    private readonly Counter<long> _upstreamFailures;
    private readonly Counter<long> _revalidations;
    private readonly Counter<long> _events;

    public SidecarMetrics()
    {
        _requests = _meter.CreateCounter<long>("sidecar.grpc.requests", description: "gRPC requests by method and status code");
        _duration = _meter.CreateHistogram<double>("sidecar.grpc.request.duration", unit: "s", description: "Server-side gRPC handling time by method",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _hits = _meter.CreateCounter<long>("sidecar.cache.hits", description: "Checks answered from a cache tier");
        _misses = _meter.CreateCounter<long>("sidecar.cache.misses", description: "Checks that missed the hot tier");
        _fallbacks = _meter.CreateCounter<long>("sidecar.fallback.answers", description: "Answers built from fallback values");
        _upstreamFetches = _meter.CreateCounter<long>("sidecar.upstream.fetches", description: "Entitlement fetches from the source");
        _upstreamFailures = _meter.CreateCounter<long>("sidecar.upstream.failures", description: "Entitlement fetches that failed");
        _revalidations = _meter.CreateCounter<long>("sidecar.cache.revalidations", description: "Background revalidations completed");
        _events = _meter.CreateCounter<long>("sidecar.events", description: "Real-time events applied, by kind");
    }

    public void Observe(Func<long> cacheBytes, Func<long> cacheCustomers, Func<long> evictions, Func<long> budget)
    {
        _meter.CreateObservableGauge("sidecar.cache.bytes", cacheBytes, unit: "By", description: "Bytes held by the hot tier");
        _meter.CreateObservableGauge("sidecar.cache.budget", budget, unit: "By", description: "CACHE_MAX_SIZE_BYTES share of the hot tier");
        _meter.CreateObservableGauge("sidecar.cache.customers", cacheCustomers, description: "Customer entries in the hot tier");
        _meter.CreateObservableCounter("sidecar.cache.evictions", evictions, description: "Customers evicted from the hot tier");
    }

    public void Request(string method, string status, long startTimestamp)
    {
        var elapsed = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        _requests.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("code", status));
        _duration.Record(elapsed, new KeyValuePair<string, object?>("method", method));
    }

    public void CacheHit() => _hits.Add(1, new KeyValuePair<string, object?>("tier", "hot"));

    public void TierHit(string tier) => _hits.Add(1, new KeyValuePair<string, object?>("tier", tier));

    public void CacheMiss() => _misses.Add(1);

    public void Fallback(string method) => _fallbacks.Add(1, new KeyValuePair<string, object?>("method", method));

    public void UpstreamFetch() => _upstreamFetches.Add(1);

    public void UpstreamFailure() => _upstreamFailures.Add(1);

    public void Revalidated() => _revalidations.Add(1);

    public void Event(string kind) => _events.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void Dispose() => _meter.Dispose();
}
