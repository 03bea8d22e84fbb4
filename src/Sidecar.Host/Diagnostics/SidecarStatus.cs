using System.Text.Json.Serialization;
using Sidecar.Cache.Faster;

namespace Sidecar.Host.Diagnostics;

/// <summary>What readiness reports: whether checks can be answered from loaded data, and the state of each dependency.</summary>
internal sealed class SidecarStatus
{
    private volatile bool _ready;
    private FasterTier? _faster;

    [JsonPropertyName("ready")] public bool Ready => _ready;
    [JsonPropertyName("mode")] public string Mode { get; set; } = "unknown";
    [JsonPropertyName("upstream")] public string Upstream { get; set; } = "unknown";
    [JsonPropertyName("events")] public string Events { get; set; } = "disabled";

    /// <summary>Stigg's circuit breaker: closed (calls go out), open (misses answer the fallback at once), halfOpen (probing).</summary>
    [JsonPropertyName("stiggCircuit")] public string? StiggCircuit { get; set; }
    [JsonPropertyName("redis")] public string Redis { get; set; } = "disabled";

    /// <summary>The FASTER tier: disabled (not configured), healthy, degraded (the disk failed it; serving from memory), unavailable (CACHE_DIR cannot be written).</summary>
    [JsonPropertyName("persistence")]
    public string Persistence => _faster switch
    {
        null => "disabled",
        { Degraded: false } => "healthy",
        { RecoveryOutcome: FasterRecoveryOutcome.Unavailable, Resumes: 0 } => "unavailable",
        _ => "degraded",
    };

    [JsonPropertyName("persistenceDetail")]
    public PersistenceStatus? PersistenceDetail => _faster is not { } faster ? null : new PersistenceStatus
    {
        Cause = faster.DegradedCause,
        Recovery = faster.RecoveryOutcome switch
        {
            FasterRecoveryOutcome.Recovered => "recovered",
            FasterRecoveryOutcome.CorruptStartedEmpty => "quarantined",
            FasterRecoveryOutcome.Unavailable => "unavailable",
            _ => "empty",
        },
        Directory = faster.StoreDirectory,
        IndexBuckets = faster.IndexBuckets,
        CorruptRecords = faster.CorruptRecords,
        Faults = faster.Faults,
        Resumes = faster.Resumes,
        SkippedWrites = faster.SkippedWrites,
    };
    [JsonPropertyName("cachedCustomers")] public int CachedCustomers { get; set; }
    [JsonPropertyName("cacheBytes")] public long CacheBytes { get; set; }
    [JsonPropertyName("hotBudgetBytes")] public long HotBudgetBytes { get; set; }
    [JsonPropertyName("persistentMemoryBytes")] public long PersistentMemoryBytes { get; set; }
    [JsonPropertyName("startupMs")] public long StartupMs { get; set; }

    /// <summary>Usage accepted and not yet delivered to Stigg (Stigg mode).</summary>
    [JsonPropertyName("usageOutbox")] public OutboxStatus? UsageOutbox { get; set; }

    public void MarkReady() => _ready = true;

    /// <summary>Reports the FASTER tier's state in readiness from now on.</summary>
    public void Observe(FasterTier faster) => _faster = faster;
}

/// <summary>The FASTER tier in readiness: why it is not persisting, what the start found, what it has counted.</summary>
internal sealed class PersistenceStatus
{
    [JsonPropertyName("cause")] public string? Cause { get; set; }
    [JsonPropertyName("recovery")] public string Recovery { get; set; } = "empty";
    [JsonPropertyName("directory")] public string? Directory { get; set; }
    [JsonPropertyName("indexBuckets")] public long IndexBuckets { get; set; }
    [JsonPropertyName("corruptRecords")] public long CorruptRecords { get; set; }
    [JsonPropertyName("faults")] public long Faults { get; set; }
    [JsonPropertyName("resumes")] public long Resumes { get; set; }
    [JsonPropertyName("skippedWrites")] public long SkippedWrites { get; set; }
}

/// <summary>The usage outbox in readiness: what waits for Stigg, and what was delivered or set aside.</summary>
internal sealed class OutboxStatus
{
    [JsonPropertyName("durable")] public bool Durable { get; set; }
    [JsonPropertyName("depth")] public long Depth { get; set; }
    [JsonPropertyName("bytes")] public long Bytes { get; set; }
    [JsonPropertyName("capacityBytes")] public long CapacityBytes { get; set; }
    [JsonPropertyName("oldestAgeSeconds")] public double OldestAgeSeconds { get; set; }
    [JsonPropertyName("delivered")] public long Delivered { get; set; }
    [JsonPropertyName("rejected")] public long Rejected { get; set; }
}

[JsonSerializable(typeof(SidecarStatus))]
internal sealed partial class HostJsonContext : JsonSerializerContext;
