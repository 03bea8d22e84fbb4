using System.Net;
using Sidecar.Cache;
using Sidecar.Cache.Faster;
using Sidecar.Cache.Redis;
using Sidecar.Core.Evaluation;
using Sidecar.Upstream;
using Sidecar.Upstream.Outbox;

namespace Sidecar.Host.Configuration;

/// <summary>Where entitlements come from.</summary>
internal enum SourceMode
{
    /// <summary>Stigg (or the emulator): Edge/GraphQL on a miss, WebSocket events, usage reporting.</summary>
    Stigg,

    /// <summary>A local entitlements file (ENTITLEMENTS_FILE), reloaded when it changes; usage is accounted locally.</summary>
    File,

    /// <summary>OFFLINE=true: every read is the fallback, usage gets a fake acknowledgement (stigg-behaviour §5.4).</summary>
    Offline,
}

/// <summary>
/// Every setting of the process, read once at start from the environment: the Stigg Sidecar's documented variables
/// with their documented defaults, plus ours (listed in the README). It composes the option records of the parts
/// (Stigg client, cache, tiers); every variable is declared once, with its default and meaning, in
/// <see cref="EnvVariables"/> (which --help prints), its default taken from the option it sets. A bad value
/// throws <see cref="SettingsException"/> naming the variable.
/// </summary>
internal sealed record SidecarSettings
{
    /// <summary>Longest customer/resource/feature id accepted on the gRPC API (characters).</summary>
    public const int MaxIdLength = 1024;

    /// <summary>
    /// Share of CACHE_MAX_SIZE_BYTES FASTER is sized from (its in-memory log is a quarter of that, plus the index); the
    /// hot tier gets the rest, never less than a quarter of the budget. FASTER's floor (4 MiB log, 1 MiB pages, 1 MiB
    /// index) means budgets under 8 MiB are exceeded by that floor.
    /// </summary>
    private const double FasterShare = 0.4;

    /// <summary>
    /// GC heap the process may use beyond CACHE_MAX_SIZE_BYTES: its own objects (~12 MiB idle), FASTER's fixed
    /// structures (~8 MiB: overflow buckets, I/O buffers), requests in flight and the garbage between collections.
    /// Hosting.HeapGovernor collects when the heap passes the budget plus this (<see cref="HeapLimitBytes"/>); the GC's
    /// hard limit is the budget plus twice this (<see cref="HeapHardLimitBytes"/>).
    /// </summary>
    public const long HeapBaseBytes = 64L << 20;

    /// <summary>
    /// What the process may need beyond CACHE_MAX_SIZE_BYTES: the heap up to its hard limit (2 × <see cref="HeapBaseBytes"/>)
    /// plus ~40 MiB outside the GC heap (the mapped binary, thread stacks, native libraries). The README documents it
    /// as the base of the bound RSS ≤ budget + base; bench/memory_budget.py measured 85–110 MB under constant eviction.
    /// </summary>
    public const long ProcessBaseBytes = 168L << 20;

    public required SourceMode Mode { get; init; }

    /// <summary>The Stigg client's options (SERVER_API_KEY, API_URL, EDGE_*, WS_*, ENTITLEMENTS_TIMEOUT_MS); Stigg mode only.</summary>
    public UpstreamOptions? Stigg { get; init; }

    /// <summary>ENTITLEMENTS_FILE as a full path; file mode only.</summary>
    public string? EntitlementsFile { get; init; }

    public required FallbackSet Fallbacks { get; init; }

    public required ServerSettings Server { get; init; }

    public required LogSettings Logging { get; init; }

    public required TelemetrySettings Telemetry { get; init; }

    public required TieredCacheOptions Cache { get; init; }

    /// <summary>CACHE_MAX_SIZE_BYTES; the default is derived from the memory this process may use (<see cref="DefaultCacheBudget"/>).</summary>
    public required long CacheMaxSizeBytes { get; init; }

    /// <summary>What the hot tier may hold: the budget less FASTER's memory (log, one page being flushed, index).</summary>
    public required long HotBudgetBytes { get; init; }

    /// <summary>The GC heap the process keeps within (Hosting.HeapGovernor): the budget plus <see cref="HeapBaseBytes"/>.</summary>
    public long HeapLimitBytes => CacheMaxSizeBytes > long.MaxValue / 2 ? long.MaxValue / 2 : CacheMaxSizeBytes + HeapBaseBytes;

    /// <summary>The GC heap hard limit, a backstop the governor keeps the heap well under: the budget plus 2 × <see cref="HeapBaseBytes"/>.</summary>
    public long HeapHardLimitBytes => HeapLimitBytes + HeapBaseBytes;

    public required string CacheDirectory { get; init; }

    /// <summary>The FASTER tier; null with CACHE_PERSISTENCE=none, and outside Stigg mode.</summary>
    public FasterTierOptions? Faster { get; init; }

    /// <summary>
    /// The usage outbox (Stigg mode): under <c>CACHE_DIR/outbox</c>, or in memory with CACHE_PERSISTENCE=none;
    /// USAGE_OUTBOX_MAX_BYTES bounds it.
    /// </summary>
    public required UsageOutboxOptions Outbox { get; init; }

    /// <summary>The shared Redis tier (REDIS_*); null without REDIS_ENVIRONMENT_PREFIX, and outside Stigg mode.</summary>
    public RedisTierOptions? Redis { get; init; }

    /// <summary>Values that must never reach a log line (SERVER_API_KEY, REDIS_PASSWORD), whether or not they are used.</summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];

    public static SidecarSettings Load(EnvReader env)
    {
        var offline = env.Bool(EnvVariables.Offline);
        var file = env.String(EnvVariables.EntitlementsFile);
        if (file is not null && !System.IO.File.Exists(file))
        {
            throw new SettingsException($"ENTITLEMENTS_FILE: no such file '{file}'");
        }

        var mode = offline ? SourceMode.Offline : file is not null ? SourceMode.File : SourceMode.Stigg;
        var apiKey = env.String(EnvVariables.ServerApiKey);
        if (mode == SourceMode.Stigg && apiKey is null)
        {
            throw new SettingsException("SERVER_API_KEY: required (or set ENTITLEMENTS_FILE for a local entitlements file, or OFFLINE=true)");
        }

        // Every variable is checked in every mode: a typo fails now, not when the mode changes.
        var stigg = StiggFrom(env, apiKey ?? string.Empty);
        var redis = RedisFrom(env);
        FallbackSet fallbacks;
        try
        {
            fallbacks = FallbackSet.Parse(env.String(EnvVariables.EntitlementsFallback));
        }
        catch (FormatException ex)
        {
            throw new SettingsException($"ENTITLEMENTS_FALLBACK: {ex.Message}");
        }

        var persistence = env.String(EnvVariables.CachePersistence)!.ToLowerInvariant() switch
        {
            "faster" => true,
            "none" => false,
            var other => throw new SettingsException($"CACHE_PERSISTENCE: expected 'faster' or 'none', got '{other}'"),
        };

        var budget = env.LongOrNull(EnvVariables.CacheMaxSizeBytes, 1 << 20, long.MaxValue) ?? DefaultCacheBudget(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
        var directory = Path.GetFullPath(env.String(EnvVariables.CacheDir)!);
        var fasterOptions = FasterFrom(env, directory, budget); // read in every mode, like every variable
        var faster = mode == SourceMode.Stigg && persistence ? fasterOptions : null;
        var hotBudget = faster is null
            ? budget
            : Math.Max(budget - FasterMemoryBytes(faster), budget / 4);

        return new SidecarSettings
        {
            Mode = mode,
            Stigg = mode == SourceMode.Stigg ? stigg : null,
            EntitlementsFile = file is null ? null : Path.GetFullPath(file),
            Fallbacks = fallbacks,
            Server = ServerSettings.Load(env),
            Logging = LogSettings.Load(env),
            Telemetry = TelemetrySettings.Load(env),
            Cache = CacheFrom(env),
            CacheMaxSizeBytes = budget,
            HotBudgetBytes = hotBudget,
            CacheDirectory = directory,
            Faster = faster,
            Redis = mode == SourceMode.Stigg && env.IsSet(EnvVariables.RedisEnvironmentPrefix) ? redis : null,
            Outbox = new UsageOutboxOptions
            {
                Directory = persistence ? Path.Combine(directory, "outbox") : null,
                MaxBytes = env.Long(EnvVariables.UsageOutboxMaxBytes, 1 << 20, long.MaxValue),
            },
            Secrets = [.. new[] { apiKey, redis.Password }.OfType<string>()],
        };
    }

    private static TieredCacheOptions CacheFrom(EnvReader env) => new()
    {
        FreshnessWindow = env.Seconds(EnvVariables.CacheFreshnessSecs, 0, 86_400),
        MissBudget = env.Milliseconds(EnvVariables.EntitlementsMissBudgetMs, 1, 600_000),
        RefetchOnEveryCheck = env.Bool(EnvVariables.CacheRefetchOnEveryCheck),
    };

    private static UpstreamOptions StiggFrom(EnvReader env, string apiKey)
    {
        var defaults = new UpstreamOptions { ApiKey = apiKey };
        var apiUrlSet = env.IsSet(EnvVariables.ApiUrl);
        var apiUrl = env.Url(EnvVariables.ApiUrl, "http", "https")!;
        return defaults with
        {
            ApiUrl = apiUrl,
            EdgeEnabled = env.Bool(EnvVariables.EdgeEnabled),
            EdgeApiUrl = env.Url(EnvVariables.EdgeApiUrl, "http", "https") ?? (apiUrlSet ? DeriveEdgeUrl(apiUrl) : defaults.EdgeApiUrl),
            WsEnabled = env.Bool(EnvVariables.WsEnabled),
            WsUrl = env.Url(EnvVariables.WsUrl, "ws", "wss") ?? (apiUrlSet ? DeriveWsUrl(apiUrl) : defaults.WsUrl),
            EntitlementsTimeout = env.Milliseconds(EnvVariables.EntitlementsTimeoutMs, 100, 600_000),
            UserAgent = SidecarVersion.UserAgent,
        };
    }

    private static RedisTierOptions RedisFrom(EnvReader env) => new()
    {
        EnvironmentPrefix = env.String(EnvVariables.RedisEnvironmentPrefix) ?? string.Empty,
        Host = env.String(EnvVariables.RedisHost)!,
        Port = env.Port(EnvVariables.RedisPort),
        Db = (int)env.Long(EnvVariables.RedisDb, 0, int.MaxValue),
        Username = env.String(EnvVariables.RedisUsername),
        Password = env.String(EnvVariables.RedisPassword),
        Tls = env.Bool(EnvVariables.RedisTls),
        KeysTtlSeconds = (int)env.Long(EnvVariables.RedisKeysTtlInSecs, int.MinValue, int.MaxValue),
        OperationTimeout = env.Milliseconds(EnvVariables.RedisTimeoutMs, 10, 60_000),
    };

    private static FasterTierOptions FasterFrom(EnvReader env, string directory, long budget)
    {
        var sized = FasterTierOptions.FromCacheBudget(directory, (long)(budget * FasterShare));
        return sized with { CheckpointInterval = env.Seconds(EnvVariables.CacheCheckpointIntervalSecs, 1, 86_400) };
    }

    /// <summary>
    /// The default CACHE_MAX_SIZE_BYTES for a process that may use <paramref name="availableBytes"/> (the cgroup limit,
    /// or the machine; the GC reports either): what keeps budget + <see cref="ProcessBaseBytes"/> within 85 % of it
    /// (the rest is headroom for the kernel's accounting and bursts), at most half of it (a sidecar shares the box),
    /// and never under 8 MiB (below about 200 MiB available the process's base alone does not fit).
    /// </summary>
    internal static long DefaultCacheBudget(long availableBytes) =>
        Math.Max(8L << 20, Math.Min(availableBytes / 2, (availableBytes / 20 * 17) - ProcessBaseBytes));

    /// <summary>
    /// FASTER's memory that grows with the budget and so is counted in it: the in-memory log, one more page (the one
    /// being flushed) and the hash index. Its fixed part (~8 MiB) is in <see cref="HeapBaseBytes"/>.
    /// </summary>
    internal static long FasterMemoryBytes(FasterTierOptions faster) =>
        faster.EffectiveMemoryBytes + faster.EffectivePageBytes + (faster.EffectiveMaxIndexBuckets * 64); // the index grows up to its maximum

    /// <summary>
    /// Stigg's SDK derives the Edge URL from API_URL by prefixing the host with <c>edge.</c>. A loopback API_URL
    /// (the emulator) serves the Edge routes itself, so it is used as is.
    /// </summary>
    private static Uri DeriveEdgeUrl(Uri apiUrl) =>
        apiUrl.IsLoopback ? apiUrl : new UriBuilder(apiUrl) { Host = "edge." + apiUrl.Host }.Uri;

    private static Uri DeriveWsUrl(Uri apiUrl) =>
        new UriBuilder(apiUrl) { Scheme = apiUrl.Scheme == "https" ? "wss" : "ws" }.Uri;
}

/// <summary>The listeners: gRPC (TCP and optionally a Unix socket) and the management port (probes, metrics).</summary>
internal sealed record ServerSettings
{
    /// <summary>Address the TCP listeners bind (BIND_ADDRESS); null = every interface, as the Stigg Sidecar does.</summary>
    public IPAddress? BindAddress { get; init; }

    public int GrpcPort { get; init; } = 80;

    /// <summary>PORT: the Stigg Sidecar's legacy TLS port; we serve no TLS and say so when it is set.</summary>
    public int LegacyTlsPort { get; init; } = 8443;

    public string? GrpcUnixSocket { get; init; }

    /// <summary>GRPC_REFLECTION: serve the reflection service (grpcurl list/describe) next to the sidecar's own.</summary>
    public bool GrpcReflection { get; init; }

    public int MetricsPort { get; init; } = 8080;

    public string HealthPath { get; init; } = "/livez";

    public string ReadyPath { get; init; } = "/readyz";

    public static ServerSettings Load(EnvReader env)
    {
        var grpcPort = env.Port(EnvVariables.GrpcPort);
        var metricsPort = env.Port(EnvVariables.MetricsPort);
        if (grpcPort == metricsPort)
        {
            throw new SettingsException($"METRICS_PORT: must differ from GRPC_PORT ({grpcPort})");
        }

        return new ServerSettings
        {
            BindAddress = env.String(EnvVariables.BindAddress) is { } bind
                ? IPAddress.TryParse(bind, out var ip) ? ip : throw new SettingsException($"BIND_ADDRESS: expected an IP address such as 127.0.0.1, got '{bind}'")
                : null,
            GrpcPort = grpcPort,
            LegacyTlsPort = env.Port(EnvVariables.LegacyTlsPort),
            GrpcUnixSocket = env.String(EnvVariables.GrpcUnixSocket),
            GrpcReflection = env.Bool(EnvVariables.GrpcReflection),
            MetricsPort = metricsPort,
            HealthPath = env.PathSegment(EnvVariables.HealthEndpointUrl),
            ReadyPath = env.PathSegment(EnvVariables.ReadyEndpointUrl),
        };
    }
}

internal enum LogLevelSetting
{
    Error,
    Warn,
    Info,
    Debug,
}

/// <summary>LOG_LEVEL, LOG_MESSAGE_KEY, LOG_ERROR_KEY.</summary>
internal sealed record LogSettings
{
    public LogLevelSetting Level { get; init; } = LogLevelSetting.Warn;

    public string MessageKey { get; init; } = "msg";

    public string ErrorKey { get; init; } = "err";

    public static LogSettings Load(EnvReader env)
    {
        var level = env.String(EnvVariables.LogLevel)!.ToLowerInvariant() switch
        {
            "error" => LogLevelSetting.Error,
            "warn" or "warning" => LogLevelSetting.Warn,
            "info" => LogLevelSetting.Info,
            "debug" => LogLevelSetting.Debug,
            var other => throw new SettingsException($"LOG_LEVEL: expected one of error, warn, info, debug, got '{other}'"),
        };
        return new LogSettings
        {
            Level = level,
            MessageKey = env.String(EnvVariables.LogMessageKey)!,
            ErrorKey = env.String(EnvVariables.LogErrorKey)!,
        };
    }
}

/// <summary>OTEL_SERVICE_NAME and OTEL_EXPORTER_OTLP_ENDPOINT: how the metrics name the service and where else they go.</summary>
internal sealed record TelemetrySettings
{
    public const string DefaultServiceName = "sidecar";

    public string ServiceName { get; init; } = DefaultServiceName;

    /// <summary>Where metrics are also pushed over OTLP; null: only the Prometheus endpoint serves them.</summary>
    public Uri? OtlpEndpoint { get; init; }

    public static TelemetrySettings Load(EnvReader env) => new()
    {
        ServiceName = env.String(EnvVariables.OtelServiceName)!,
        OtlpEndpoint = env.Url(EnvVariables.OtelExporterOtlpEndpoint, "http", "https"),
    };
}
