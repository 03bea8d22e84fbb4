using System.Globalization;
using Sidecar.Cache;
using Sidecar.Cache.Faster;
using Sidecar.Cache.Redis;
using Sidecar.Upstream;
using Sidecar.Upstream.Outbox;

namespace Sidecar.Host.Configuration;

/// <summary>
/// One environment variable: its name, the value applied when it is unset (as an operator would write it, parsed by
/// the same code as a value that is set; null when unset means "not set"), and what it means.
/// </summary>
internal sealed record EnvVariable(string Name, string? Default, string Description)
{
    /// <summary>What <c>--help</c> shows as the default when no literal one applies (a value worked out at start).</summary>
    public string? ComputedDefault { get; init; }

    public string DefaultText => Default ?? ComputedDefault ?? "unset";
}

/// <summary>
/// Every variable the sidecar reads, declared once: <see cref="SidecarSettings"/> parses them through
/// <see cref="EnvReader"/> (which applies <see cref="EnvVariable.Default"/>) and <c>sidecar --help</c> prints this
/// table. A literal default is taken from the option record it sets, so each default is written in one place.
/// </summary>
internal static class EnvVariables
{
    private static readonly UpstreamOptions Stigg = new() { ApiKey = string.Empty };
    private static readonly RedisTierOptions Redis = new() { EnvironmentPrefix = string.Empty };
    private static readonly TieredCacheOptions Cache = new() { FreshnessWindow = TimeSpan.FromSeconds(30) };
    private static readonly FasterTierOptions Faster = new() { Directory = "." };
    private static readonly ServerSettings Server = new();
    private static readonly LogSettings Logs = new();

    // Source and Stigg
    public static readonly EnvVariable ServerApiKey = new("SERVER_API_KEY", null, "Stigg server API key; required unless ENTITLEMENTS_FILE or OFFLINE is set. Never logged");
    public static readonly EnvVariable Offline = new("OFFLINE", "false", "Serve only ENTITLEMENTS_FALLBACK values and acknowledge usage without sending it (no Stigg)");
    public static readonly EnvVariable EntitlementsFile = new("ENTITLEMENTS_FILE", null, "Serve entitlements from this local JSON file (reloaded when it changes) instead of Stigg");
    public static readonly EnvVariable ApiUrl = new("API_URL", Text(Stigg.ApiUrl), "Stigg GraphQL API base URL (http or https)");
    public static readonly EnvVariable EdgeEnabled = new("EDGE_ENABLED", Text(Stigg.EdgeEnabled), "Read entitlements from Stigg's Edge API; false reads them from the GraphQL API");
    public static readonly EnvVariable EdgeApiUrl = new("EDGE_API_URL", null, "Stigg Edge API base URL (http or https)")
    {
        ComputedDefault = $"{Text(Stigg.EdgeApiUrl)}; with API_URL set, API_URL with its host prefixed 'edge.' (a loopback API_URL as is)",
    };

    public static readonly EnvVariable WsEnabled = new("WS_ENABLED", Text(Stigg.WsEnabled), "Keep the cache current with Stigg's real-time event stream (WebSocket)");
    public static readonly EnvVariable WsUrl = new("WS_URL", null, "Stigg event stream URL (ws or wss)")
    {
        ComputedDefault = $"{Text(Stigg.WsUrl)}; with API_URL set, API_URL with scheme ws/wss",
    };

    public static readonly EnvVariable EntitlementsTimeoutMs = new("ENTITLEMENTS_TIMEOUT_MS", Milliseconds(Stigg.EntitlementsTimeout), "Budget of one entitlements fetch from Stigg, retries included (ms)");
    public static readonly EnvVariable EntitlementsFallback = new("ENTITLEMENTS_FALLBACK", null, "JSON object of fallback values per feature, answered when nothing better is known (unset: no fallback values)");

    // Cache
    public static readonly EnvVariable CacheMaxSizeBytes = new("CACHE_MAX_SIZE_BYTES", null, "Memory budget of the cache in bytes, hot tier and FASTER together (at least 1048576)")
    {
        ComputedDefault = "half the memory this process may use (cgroup-aware)",
    };

    public static readonly EnvVariable CacheFreshnessSecs = new("CACHE_FRESHNESS_SECS", Seconds(Cache.FreshnessWindow), "Without the event stream, entries older than this are answered and revalidated in the background (s)");
    public static readonly EnvVariable EntitlementsMissBudgetMs = new("ENTITLEMENTS_MISS_BUDGET_MS", Milliseconds(Cache.MissBudget), "How long a check waits for a miss when the caller set no gRPC deadline, then answers the fallback (ms)");
    public static readonly EnvVariable CacheRefetchOnEveryCheck = new("CACHE_REFETCH_ON_EVERY_CHECK", Text(Cache.RefetchOnEveryCheck), "Without the event stream, refetch on every check (Stigg's own behaviour) instead of the freshness window");
    public static readonly EnvVariable CachePersistence = new("CACHE_PERSISTENCE", "faster", "'faster' keeps entitlements and the usage outbox on disk under CACHE_DIR; 'none' keeps them in memory only");
    public static readonly EnvVariable CacheDir = new("CACHE_DIR", Path.Combine(".", "sidecar-cache"), "Directory of the FASTER tier and the usage outbox (relative to the working directory)");
    public static readonly EnvVariable CacheCheckpointIntervalSecs = new("CACHE_CHECKPOINT_INTERVAL_SECS", Seconds(Faster.CheckpointInterval), "How often the FASTER tier takes a checkpoint (s)");
    public static readonly EnvVariable UsageOutboxMaxBytes = new("USAGE_OUTBOX_MAX_BYTES", Text(UsageOutboxOptions.DefaultMaxBytes), "Bytes of undelivered usage the outbox may hold; beyond it reports are refused with RESOURCE_EXHAUSTED");

    // Redis
    public static readonly EnvVariable RedisEnvironmentPrefix = new("REDIS_ENVIRONMENT_PREFIX", null, "Enables the shared Redis tier; the first segment of every Redis key");
    public static readonly EnvVariable RedisHost = new("REDIS_HOST", Redis.Host, "Redis host");
    public static readonly EnvVariable RedisPort = new("REDIS_PORT", Text(Redis.Port), "Redis port");
    public static readonly EnvVariable RedisDb = new("REDIS_DB", Text(Redis.Db), "Redis database number");
    public static readonly EnvVariable RedisUsername = new("REDIS_USERNAME", null, "Redis ACL user name");
    public static readonly EnvVariable RedisPassword = new("REDIS_PASSWORD", null, "Redis password. Never logged");
    public static readonly EnvVariable RedisTls = new("REDIS_TLS", Text(Redis.Tls), "Connect to Redis over TLS");
    public static readonly EnvVariable RedisKeysTtlInSecs = new("REDIS_KEYS_TTL_IN_SECS", Text(Redis.KeysTtlSeconds), "Expiry of every key written to Redis (s); negative: no expiry");
    public static readonly EnvVariable RedisTimeoutMs = new("REDIS_TIMEOUT_MS", Milliseconds(Redis.OperationTimeout), "How long one Redis operation may take before it counts as a miss (ms)");

    // Listeners
    public static readonly EnvVariable BindAddress = new("BIND_ADDRESS", null, "IP address the TCP listeners bind, e.g. 127.0.0.1 or ::1 (unset: every interface)");
    public static readonly EnvVariable GrpcPort = new("GRPC_PORT", Text(Server.GrpcPort), "gRPC port (HTTP/2 without TLS)");
    public static readonly EnvVariable GrpcReflection = new("GRPC_REFLECTION", Text(Server.GrpcReflection), "Serve gRPC server reflection on the gRPC port, so grpcurl and similar tools list and call the services without the .proto");
    public static readonly EnvVariable GrpcUnixSocket = new("GRPC_UNIX_SOCKET", null, "Also serve gRPC on this Unix domain socket path");
    public static readonly EnvVariable MetricsPort = new("METRICS_PORT", Text(Server.MetricsPort), "Port of the health, readiness and Prometheus /metrics endpoints (HTTP/1.1)");
    public static readonly EnvVariable HealthEndpointUrl = new("HEALTH_ENDPOINT_URL", Server.HealthPath, "Path of the liveness endpoint on METRICS_PORT");
    public static readonly EnvVariable ReadyEndpointUrl = new("READY_ENDPOINT_URL", Server.ReadyPath, "Path of the readiness endpoint on METRICS_PORT");
    public static readonly EnvVariable LegacyTlsPort = new("PORT", Text(Server.LegacyTlsPort), "The Stigg Sidecar's TLS port: accepted for compatibility, TLS is not served (a warning says so when set)");

    // Logs and telemetry
    public static readonly EnvVariable LogLevel = new("LOG_LEVEL", Logs.Level.ToString().ToLowerInvariant(), "Lowest level logged: error, warn, info or debug");
    public static readonly EnvVariable LogMessageKey = new("LOG_MESSAGE_KEY", Logs.MessageKey, "JSON key of the message in each log line");
    public static readonly EnvVariable LogErrorKey = new("LOG_ERROR_KEY", Logs.ErrorKey, "JSON key of the cause in each warn/error log line about a failure");
    public static readonly EnvVariable OtelServiceName = new("OTEL_SERVICE_NAME", TelemetrySettings.DefaultServiceName, "service.name of the exported metrics (target_info on /metrics)");
    public static readonly EnvVariable OtelExporterOtlpEndpoint = new("OTEL_EXPORTER_OTLP_ENDPOINT", null, "Also push metrics over OTLP to this URL (OTEL_EXPORTER_OTLP_PROTOCOL, _HEADERS etc. apply as the OpenTelemetry SDK defines them)");

    /// <summary>Every variable, in the order <c>--help</c> lists them.</summary>
    public static IReadOnlyList<EnvVariable> All { get; } =
    [
        ServerApiKey, Offline, EntitlementsFile, ApiUrl, EdgeEnabled, EdgeApiUrl, WsEnabled, WsUrl, EntitlementsTimeoutMs, EntitlementsFallback,
        CacheMaxSizeBytes, CacheFreshnessSecs, EntitlementsMissBudgetMs, CacheRefetchOnEveryCheck, CachePersistence, CacheDir, CacheCheckpointIntervalSecs, UsageOutboxMaxBytes,
        RedisEnvironmentPrefix, RedisHost, RedisPort, RedisDb, RedisUsername, RedisPassword, RedisTls, RedisKeysTtlInSecs, RedisTimeoutMs,
        BindAddress, GrpcPort, GrpcReflection, GrpcUnixSocket, MetricsPort, HealthEndpointUrl, ReadyEndpointUrl, LegacyTlsPort,
        LogLevel, LogMessageKey, LogErrorKey, OtelServiceName, OtelExporterOtlpEndpoint,
    ];

    private static string Text(bool value) => value ? "true" : "false";

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(Uri value) => value.ToString().TrimEnd('/');

    private static string Milliseconds(TimeSpan value) => Text((long)value.TotalMilliseconds);

    private static string Seconds(TimeSpan value) => Text((long)value.TotalSeconds);
}
