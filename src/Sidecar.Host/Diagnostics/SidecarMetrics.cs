using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Sidecar.Cache;
using Sidecar.Cache.Faster;
using Sidecar.Cache.Redis;
using Sidecar.Upstream;
using Sidecar.Upstream.Outbox;

namespace Sidecar.Host.Diagnostics;

/// <summary>
/// The host's instruments: gRPC requests and their duration, fallback answers, events applied. The cache's own
/// (hits by tier, misses, fetches, revalidations, size) are in <see cref="CacheMetrics"/>; both are on one meter,
/// exported as Prometheus text on METRICS_PORT. Tag values are interned constants so recording allocates nothing.
/// The state of a dependency is a state set (<see cref="ObserveState"/>): one series per state, 1 for the current one.
/// </summary>
internal sealed class SidecarMetrics : IDisposable
{
    public const string MeterName = CacheMetrics.MeterName;

    private readonly Meter _meter = new(MeterName);
    private readonly Lock _methodsLock = new();
    private MethodRequests[] _methods = [];
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _events;

    public SidecarMetrics(SidecarStatus status)
    {
        _meter.CreateObservableGauge(
            "sidecar.upstream.circuit",
            () => status.StiggCircuit switch { "open" => 2, "halfOpen" => 1, _ => 0 },
            description: "Stigg's circuit breaker: 0 closed, 1 half-open (probing), 2 open (misses answer the fallback at once)");
        _meter.CreateObservableGauge(
            "sidecar.build.info",
            () => new Measurement<int>(1, new KeyValuePair<string, object?>("version", SidecarVersion.Informational)),
            description: "Always 1; the version label is the build's version with its commit (as sidecar --version prints it)");
        ObserveState(
            "sidecar.events.state",
            "Stigg's real-time event stream (WS_ENABLED): 1 for the current state",
            ["disabled", .. Enum.GetNames<EventStreamState>().Select(n => n.ToLowerInvariant())],
            () => status.Events);
        _meter.CreateObservableCounter("sidecar.grpc.requests", ObserveRequests, description: "gRPC requests by method and status code");
        _duration = _meter.CreateHistogram<double>("sidecar.grpc.request.duration", unit: "s", description: "Server-side gRPC handling time by method",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _fallbacks = _meter.CreateCounter<long>("sidecar.fallback.answers", description: "Answers built from fallback values");
        _events = _meter.CreateCounter<long>("sidecar.events", description: "Real-time events applied, by kind");
    }

    /// <summary>The usage outbox's queue: depth, age of the oldest entry, delivered and set-aside reports.</summary>
    public void Observe(UsageOutbox outbox)
    {
        _meter.CreateObservableGauge("sidecar.usage.outbox.depth", () => outbox.Depth, description: "Usage reports and events accepted and not yet delivered to Stigg");
        _meter.CreateObservableGauge("sidecar.usage.outbox.bytes", () => outbox.SizeBytes, unit: "By", description: "Bytes the undelivered entries hold (USAGE_OUTBOX_MAX_BYTES bounds it)");
        _meter.CreateObservableGauge("sidecar.usage.outbox.oldest.age", () => outbox.OldestEntryAge.TotalSeconds, unit: "s", description: "Age of the oldest undelivered entry");
        _meter.CreateObservableCounter("sidecar.usage.outbox.delivered", () => outbox.DeliveredCount, description: "Entries delivered to Stigg from the outbox");
        _meter.CreateObservableCounter("sidecar.usage.outbox.rejected", () => outbox.RejectedCount, description: "Entries Stigg rejected for good, set aside in the dead-letter file");
    }

    /// <summary>The FASTER tier: whether it persists, and what went wrong with its disk or its records.</summary>
    public void Observe(FasterTier faster, Func<string> state)
    {
        ObserveState("sidecar.persistence.state", "The FASTER tier: healthy, degraded (the disk failed it; serving from memory) or unavailable (CACHE_DIR cannot be written)", ["healthy", "degraded", "unavailable"], state);
        _meter.CreateObservableGauge("sidecar.persistence.degraded", () => faster.Degraded ? 1 : 0, description: "1 while the FASTER tier is not persisting (disk full, directory gone, read-only); the sidecar serves from memory");
        _meter.CreateObservableCounter("sidecar.persistence.faults", () => faster.Faults, description: "Times the disk failed the FASTER store (a failed flush, checkpoint or manifest write)");
        _meter.CreateObservableCounter("sidecar.persistence.resumes", () => faster.Resumes, description: "Times persistence resumed on a new store after a fault");
        _meter.CreateObservableCounter("sidecar.persistence.skipped.writes", () => faster.SkippedWrites, description: "Writes not persisted while degraded");
        _meter.CreateObservableCounter("sidecar.persistence.corrupt.records", () => faster.CorruptRecords, description: "Stored records that failed their checksum or key check (each answered as a miss and removed)");
        _meter.CreateObservableGauge("sidecar.persistence.index.buckets", () => faster.IndexBuckets, description: "Buckets of the FASTER hash index (64 bytes each; grows with the data)");
    }

    /// <summary>Redis's connection (REDIS_* set): 1 while connected, 0 while reads answer as misses.</summary>
    public void Observe(RedisConnection redis) =>
        _meter.CreateObservableGauge("sidecar.redis.connected", () => redis.IsConnected ? 1 : 0, description: "Whether the shared Redis tier is connected (1) or not (0)");

    /// <summary>
    /// A state set: <c>name{state="…"}</c> for every state in <paramref name="states"/>, 1 for the one
    /// <paramref name="current"/> returns and 0 for the others, so a state change never leaves a stale series at 1.
    /// </summary>
    public void ObserveState(string name, string description, IReadOnlyList<string> states, Func<string> current)
    {
        var tags = states.Select(s => new KeyValuePair<string, object?>("state", s)).ToArray();
        _meter.CreateObservableGauge(name, () => Measure(states, tags, current()), description: description);

        static IEnumerable<Measurement<int>> Measure(IReadOnlyList<string> states, KeyValuePair<string, object?>[] tags, string current)
        {
            for (var i = 0; i < states.Count; i++)
            {
                yield return new Measurement<int>(states[i] == current ? 1 : 0, tags[i]);
            }
        }
    }

    /// <summary>The counts <see cref="Request"/> adds to for <paramref name="method"/>: one per method, taken when it is bound.</summary>
    public MethodRequests ForMethod(string method)
    {
        lock (_methodsLock)
        {
            var requests = new MethodRequests(method);
            _methods = [.. _methods, requests];
            return requests;
        }
    }

    /// <summary>Counts one call by its status code and records how long it took.</summary>
    public void Request(MethodRequests method, StatusCode code, long startTimestamp)
    {
        var elapsed = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        method.Add(code);
        _duration.Record(elapsed, method.Tag);
    }

    /// <summary>Every method and code called so far, as the counter's series (a series appears with its first call).</summary>
    private IEnumerable<Measurement<long>> ObserveRequests()
    {
        foreach (var method in Volatile.Read(ref _methods))
        {
            for (var code = 0; code < MethodRequests.Codes; code++)
            {
                if (method.Count(code) is var count and > 0)
                {
                    yield return new Measurement<long>(count, method.Tag, CodeTags[code]);
                }
            }
        }
    }

    /// <summary>The <c>code</c> label of each status code, as gRPC names it.</summary>
    private static readonly KeyValuePair<string, object?>[] CodeTags = Enumerable.Range(0, MethodRequests.Codes)
        .Select(code => new KeyValuePair<string, object?>("code", CodeName((StatusCode)code)))
        .ToArray();

    private static string CodeName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    };

    public void Fallback(string method) => _fallbacks.Add(1, new KeyValuePair<string, object?>("method", method));

    public void Event(string kind) => _events.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void Dispose() => _meter.Dispose();
}

/// <summary>
/// One method's calls by status code: own counts behind an observable counter rather than a <c>Counter</c> with two
/// tags, whose per-call tag lookup showed as 1 % of the server's CPU under load; an increment costs next to nothing.
/// </summary>
internal sealed class MethodRequests(string method)
{
    /// <summary>gRPC's status codes, 0 (OK) to 16 (UNAUTHENTICATED).</summary>
    public const int Codes = 17;

    private readonly long[] _counts = new long[Codes];

    public KeyValuePair<string, object?> Tag { get; } = new("method", method);

    public void Add(StatusCode code) => Interlocked.Increment(ref _counts[(uint)code < Codes ? (int)code : (int)StatusCode.Unknown]);

    public long Count(int code) => Volatile.Read(ref _counts[code]);
}
