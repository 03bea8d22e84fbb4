using System.Text.Json.Serialization;

namespace Sidecar.Host.Diagnostics;

/// <summary>What readiness reports: whether checks can be answered from loaded data, and the state of each dependency.</summary>
internal sealed class SidecarStatus
{
    private volatile bool _ready;

    [JsonPropertyName("ready")] public bool Ready => _ready;
    [JsonPropertyName("mode")] public string Mode { get; set; } = "unknown";
    [JsonPropertyName("upstream")] public string Upstream { get; set; } = "unknown";
    [JsonPropertyName("events")] public string Events { get; set; } = "disabled";

    /// <summary>Stigg's circuit breaker: closed (calls go out), open (misses answer the fallback at once), halfOpen (probing).</summary>
    [JsonPropertyName("stiggCircuit")] public string? StiggCircuit { get; set; }
    [JsonPropertyName("redis")] public string Redis { get; set; } = "disabled";
    [JsonPropertyName("persistence")] public string Persistence { get; set; } = "disabled";
    [JsonPropertyName("cachedCustomers")] public int CachedCustomers { get; set; }
    [JsonPropertyName("cacheBytes")] public long CacheBytes { get; set; }
    [JsonPropertyName("hotBudgetBytes")] public long HotBudgetBytes { get; set; }
    [JsonPropertyName("persistentMemoryBytes")] public long PersistentMemoryBytes { get; set; }
    [JsonPropertyName("startupMs")] public long StartupMs { get; set; }

    /// <summary>Usage accepted and not yet delivered to Stigg (Stigg mode).</summary>
    [JsonPropertyName("usageOutbox")] public OutboxStatus? UsageOutbox { get; set; }

    public void MarkReady() => _ready = true;
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
