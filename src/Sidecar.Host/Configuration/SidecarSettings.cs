using Sidecar.Core.Evaluation;

namespace Sidecar.Host.Configuration;

/// <summary>Where entitlements come from.</summary>
internal enum SourceMode
{
    /// <summary>Stigg (or the emulator): Edge/GraphQL on a miss, WebSocket events, usage reporting.</summary>
    Upstream,

    /// <summary>A local entitlements file (ENTITLEMENTS_FILE), reloaded when it changes; usage is acknowledged locally.</summary>
    File,

    /// <summary>OFFLINE=true: every read is the fallback, usage gets a fake acknowledgement (stigg-behaviour §5.4).</summary>
    Offline,
}

internal enum LogLevelSetting
{
    Error,
    Warn,
    Info,
    Debug,
}

/// <summary>
/// Every setting of the process, read once at start from the environment: the Stigg Sidecar's documented variables
/// with their documented defaults, plus ours (listed in the README). A bad value throws
/// <see cref="SettingsException"/> naming the variable.
/// </summary>
internal sealed record SidecarSettings
{
    /// <summary>Longest customer/resource/feature id accepted on the gRPC API (characters).</summary>
    public const int MaxIdLength = 1024;

    public SourceMode Mode { get; init; }
    public string? ApiKey { get; init; }
    public required Uri ApiUrl { get; init; }
    public bool EdgeEnabled { get; init; } = true;
    public required Uri EdgeApiUrl { get; init; }
    public bool WsEnabled { get; init; } = true;
    public required Uri WsUrl { get; init; }
    public TimeSpan EntitlementsTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public string? RedisEnvironmentPrefix { get; init; }
    public string RedisHost { get; init; } = "localhost";
    public int RedisPort { get; init; } = 6379;
    public int RedisDb { get; init; }
    public string? RedisUsername { get; init; }
    public string? RedisPassword { get; init; }
    public bool RedisTls { get; init; }
    public int RedisKeysTtlSeconds { get; init; } = 604800;
    public TimeSpan RedisTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    public FallbackSet Fallbacks { get; init; } = FallbackSet.Empty;

    /// <summary>Address the TCP listeners bind (BIND_ADDRESS); null = every interface, as the Stigg Sidecar does.</summary>
    public System.Net.IPAddress? BindAddress { get; init; }
    public int GrpcPort { get; init; } = 80;
    public int LegacyTlsPort { get; init; } = 8443;
    public string? GrpcUnixSocket { get; init; }
    public int MetricsPort { get; init; } = 8080;
    public string HealthPath { get; init; } = "/livez";
    public string ReadyPath { get; init; } = "/readyz";

    public long CacheMaxSizeBytes { get; init; }
    public string? EntitlementsFile { get; init; }
    public bool PersistenceEnabled { get; init; } = true;
    public required string CacheDirectory { get; init; }
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan FreshnessWindow { get; init; } = TimeSpan.FromSeconds(30);
    public bool RefetchOnEveryCheck { get; init; }

    public LogLevelSetting LogLevel { get; init; } = LogLevelSetting.Warn;
    public string LogMessageKey { get; init; } = "msg";
    public string LogErrorKey { get; init; } = "err";

    public bool RedisEnabled => RedisEnvironmentPrefix is not null;

    /// <summary>Values that must never reach a log line.</summary>
    public IReadOnlyList<string> Secrets => [.. new[] { ApiKey, RedisPassword }.Where(s => !string.IsNullOrEmpty(s)).Select(s => s!)];

    public static SidecarSettings Load(EnvReader env)
    {
        var offline = env.Bool("OFFLINE", false);
        var file = env.String("ENTITLEMENTS_FILE");
        if (file is not null && !System.IO.File.Exists(file))
        {
            throw new SettingsException($"ENTITLEMENTS_FILE: no such file '{file}'");
        }

        var mode = offline ? SourceMode.Offline : file is not null ? SourceMode.File : SourceMode.Upstream;
        var apiKey = env.String("SERVER_API_KEY");
        if (mode == SourceMode.Upstream && apiKey is null)
        {
            throw new SettingsException("SERVER_API_KEY: required (or set ENTITLEMENTS_FILE for a local entitlements file, or OFFLINE=true)");
        }

        var apiUrl = env.Url("API_URL", "https://api.stigg.io", "http", "https");
        var edgeUrl = env.UrlOrNull("EDGE_API_URL", "http", "https") ?? DeriveEdgeUrl(env.String("API_URL") is null, apiUrl);
        var wsUrl = env.UrlOrNull("WS_URL", "ws", "wss") ?? DeriveWsUrl(env.String("API_URL") is null, apiUrl);

        FallbackSet fallbacks;
        try
        {
            fallbacks = FallbackSet.Parse(env.String("ENTITLEMENTS_FALLBACK"));
        }
        catch (FormatException ex)
        {
            throw new SettingsException($"ENTITLEMENTS_FALLBACK: {ex.Message}");
        }

        var level = env.String("LOG_LEVEL", "warn").ToLowerInvariant() switch
        {
            "error" => LogLevelSetting.Error,
            "warn" or "warning" => LogLevelSetting.Warn,
            "info" => LogLevelSetting.Info,
            "debug" => LogLevelSetting.Debug,
            var other => throw new SettingsException($"LOG_LEVEL: expected one of error, warn, info, debug, got '{other}'"),
        };

        var persistence = env.String("CACHE_PERSISTENCE", "faster").ToLowerInvariant() switch
        {
            "faster" => true,
            "none" => false,
            var other => throw new SettingsException($"CACHE_PERSISTENCE: expected 'faster' or 'none', got '{other}'"),
        };

        var grpcPort = env.Port("GRPC_PORT", 80);
        var metricsPort = env.Port("METRICS_PORT", 8080);
        if (grpcPort == metricsPort)
        {
            throw new SettingsException($"METRICS_PORT: must differ from GRPC_PORT ({grpcPort})");
        }

        return new SidecarSettings
        {
            Mode = mode,
            ApiKey = apiKey,
            ApiUrl = apiUrl,
            EdgeEnabled = env.Bool("EDGE_ENABLED", true),
            EdgeApiUrl = edgeUrl,
            WsEnabled = env.Bool("WS_ENABLED", true),
            WsUrl = wsUrl,
            EntitlementsTimeout = TimeSpan.FromMilliseconds(env.Long("ENTITLEMENTS_TIMEOUT_MS", 10_000, 100, 600_000)),
            RedisEnvironmentPrefix = env.String("REDIS_ENVIRONMENT_PREFIX"),
            RedisHost = env.String("REDIS_HOST", "localhost"),
            RedisPort = env.Port("REDIS_PORT", 6379),
            RedisDb = (int)env.Long("REDIS_DB", 0, 0, int.MaxValue),
            RedisUsername = env.String("REDIS_USERNAME"),
            RedisPassword = env.String("REDIS_PASSWORD"),
            RedisTls = env.Bool("REDIS_TLS", false),
            RedisKeysTtlSeconds = (int)env.Long("REDIS_KEYS_TTL_IN_SECS", 604800, int.MinValue, int.MaxValue),
            RedisTimeout = TimeSpan.FromMilliseconds(env.Long("REDIS_TIMEOUT_MS", 250, 10, 60_000)),
            Fallbacks = fallbacks,
            BindAddress = env.String("BIND_ADDRESS") is { } bind
                ? System.Net.IPAddress.TryParse(bind, out var ip) ? ip : throw new SettingsException($"BIND_ADDRESS: expected an IP address such as 127.0.0.1, got '{bind}'")
                : null,
            GrpcPort = grpcPort,
            LegacyTlsPort = env.Port("PORT", 8443),
            GrpcUnixSocket = env.String("GRPC_UNIX_SOCKET"),
            MetricsPort = metricsPort,
            HealthPath = env.PathSegment("HEALTH_ENDPOINT_URL", "livez"),
            ReadyPath = env.PathSegment("READY_ENDPOINT_URL", "readyz"),
            CacheMaxSizeBytes = env.LongOrNull("CACHE_MAX_SIZE_BYTES", 1 << 20, long.MaxValue) ?? DefaultCacheBudget(),
            EntitlementsFile = file is null ? null : Path.GetFullPath(file),
            PersistenceEnabled = persistence,
            CacheDirectory = Path.GetFullPath(env.String("CACHE_DIR", Path.Combine(".", "sidecar-cache"))),
            CheckpointInterval = TimeSpan.FromSeconds(env.Long("CACHE_CHECKPOINT_INTERVAL_SECS", 30, 1, 86_400)),
            FreshnessWindow = TimeSpan.FromSeconds(env.Long("CACHE_FRESHNESS_SECS", 30, 0, 86_400)),
            RefetchOnEveryCheck = env.Bool("CACHE_REFETCH_ON_EVERY_CHECK", false),
            LogLevel = level,
            LogMessageKey = env.String("LOG_MESSAGE_KEY", "msg"),
            LogErrorKey = env.String("LOG_ERROR_KEY", "err"),
        };
    }

    /// <summary>50 % of the memory this process may use; the GC reports the cgroup limit when there is one.</summary>
    private static long DefaultCacheBudget() => Math.Max(1 << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2);

    /// <summary>
    /// Stigg's SDK derives the Edge URL from API_URL by prefixing the host with <c>edge.</c>. A loopback API_URL
    /// (the emulator) serves the Edge routes itself, so it is used as is.
    /// </summary>
    private static Uri DeriveEdgeUrl(bool apiUrlIsDefault, Uri apiUrl)
    {
        if (apiUrlIsDefault)
        {
            return new Uri("https://edge.api.stigg.io");
        }

        if (apiUrl.IsLoopback)
        {
            return apiUrl;
        }

        return new UriBuilder(apiUrl) { Host = "edge." + apiUrl.Host }.Uri;
    }

    private static Uri DeriveWsUrl(bool apiUrlIsDefault, Uri apiUrl)
    {
        if (apiUrlIsDefault)
        {
            return new Uri("wss://api.stigg.io");
        }

        return new UriBuilder(apiUrl) { Scheme = apiUrl.Scheme == "https" ? "wss" : "ws" }.Uri;
    }
}
