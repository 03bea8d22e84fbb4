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

    public void MarkReady() => _ready = true;
}

[JsonSerializable(typeof(SidecarStatus))]
internal sealed partial class HostJsonContext : JsonSerializerContext;
