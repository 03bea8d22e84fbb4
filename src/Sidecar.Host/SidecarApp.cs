using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Grpc.HealthCheck;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Sidecar.Cache;
using Sidecar.Cache.Faster;
using Sidecar.Cache.Hot;
using Sidecar.Cache.Redis;
using Sidecar.Core.Model;
using Sidecar.Host.Configuration;
using Sidecar.Host.Diagnostics;
using Sidecar.Host.Engine;
using Sidecar.Host.Rpc;
using Sidecar.Upstream;
using Grpc.AspNetCore.Server.Model;
using HealthStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Sidecar.Host;

/// <summary>
/// The composition root: builds the tiers, the source and the servers from <see cref="SidecarSettings"/>, starts
/// serving at once (reads are answered from cache or fallback while the rest warms up), and tears everything down in
/// order on stop (drain requests, stop events, checkpoint the store).
/// </summary>
internal sealed class SidecarApp : IAsyncDisposable
{
    /// <summary>
    /// Share of CACHE_MAX_SIZE_BYTES FASTER is sized from (its in-memory log is a quarter of that, plus the index);
    /// the hot tier gets the rest, never less than a quarter of the budget. FASTER's floor (4 MiB log + 1 MiB index)
    /// means budgets under about 8 MiB are exceeded by that floor.
    /// </summary>
    private const double FasterShare = 0.4;

    private readonly WebApplication _web;
    private readonly List<IAsyncDisposable> _owned;
    private readonly ILogger _logger;

    private SidecarApp(WebApplication web, List<IAsyncDisposable> owned, SidecarStatus status, EntitlementStore store, ILogger logger)
    {
        _web = web;
        _owned = owned;
        Status = status;
        Store = store;
        _logger = logger;
    }

    public SidecarStatus Status { get; }

    public EntitlementStore Store { get; }

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl-C, or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync() => _web.WaitForShutdownAsync();

    public static async Task<SidecarApp> StartAsync(SidecarSettings settings, TimeProvider time, Stream logOutput, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        // Content root = the binary's folder, and no config-reload watchers: otherwise the host puts an inotify watch on
        // every directory below the working directory (all of / for a unit started there).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        var minimum = settings.LogLevel switch
        {
            LogLevelSetting.Error => LogLevel.Error,
            LogLevelSetting.Warn => LogLevel.Warning,
            LogLevelSetting.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        var logProvider = new JsonLineLoggerProvider(logOutput, minimum, settings.LogMessageKey, settings.LogErrorKey, settings.Secrets, time);
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logProvider);
        builder.Logging.SetMinimumLevel(minimum);
        // The framework's own chatter stays at warning unless we debug.
        builder.Logging.AddFilter("Microsoft", minimum < LogLevel.Information ? minimum : LogLevel.Warning);

        // An enabled hosting-diagnostics logger makes ASP.NET create an Activity per request; we log no request lines.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Host.UseSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1024;
            kestrel.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 1024 * 1024;
            void Listen(int port, HttpProtocols protocols)
            {
                if (settings.BindAddress is { } address)
                {
                    kestrel.Listen(address, port, o => o.Protocols = protocols);
                }
                else
                {
                    kestrel.ListenAnyIP(port, o => o.Protocols = protocols);
                }
            }

            Listen(settings.GrpcPort, HttpProtocols.Http2);
            if (settings.GrpcUnixSocket is { } socket)
            {
                if (File.Exists(socket))
                {
                    File.Delete(socket); // a stale socket from a previous run would make bind fail
                }

                kestrel.ListenUnixSocket(socket, o => o.Protocols = HttpProtocols.Http2);
            }

            Listen(settings.MetricsPort, HttpProtocols.Http1); // scrapers and probes speak HTTP/1.1
        });

        var loggerFactory = LoggerFactory.Create(l => l.AddProvider(logProvider).SetMinimumLevel(minimum));
        var logger = loggerFactory.CreateLogger("Sidecar");
        var metrics = new SidecarMetrics();
        var status = new SidecarStatus { Mode = settings.Mode.ToString().ToLowerInvariant() };
        var owned = new List<IAsyncDisposable>();

        // Tiers: FASTER (embedded) then Redis (shared), only when entitlements come from Stigg.
        var tiers = new List<ISnapshotTier>();
        FasterMaintenanceLoop? fasterMaintenance = null;
        var hotBudget = settings.CacheMaxSizeBytes;
        if (settings.Mode == SourceMode.Upstream && settings.PersistenceEnabled)
        {
            // FASTER is sized from its share of the budget; the hot tier gets what FASTER's memory (log + index) leaves.
            var fasterOptions = FasterTierOptions.FromCacheBudget(settings.CacheDirectory, (long)(settings.CacheMaxSizeBytes * FasterShare))
                with { CheckpointInterval = settings.CheckpointInterval };
            var fasterFootprint = fasterOptions.EffectiveMemoryBytes + (fasterOptions.EffectiveIndexBuckets * 64);
            hotBudget = Math.Max(settings.CacheMaxSizeBytes - fasterFootprint, settings.CacheMaxSizeBytes / 4);
            var faster = await FasterTier.OpenAsync(fasterOptions, loggerFactory.CreateLogger("Sidecar.Faster"), time, cancellationToken).ConfigureAwait(false);
            tiers.Add(faster);
            fasterMaintenance = new FasterMaintenanceLoop(faster, fasterOptions.CheckpointInterval, time);
            status.Persistence = faster.RecoveryOutcome.ToString().ToLowerInvariant();
            status.PersistentMemoryBytes = fasterFootprint;
        }

        RedisConnection? redis = null;
        if (settings.Mode == SourceMode.Upstream && settings.RedisEnabled)
        {
            redis = await RedisConnection.ConnectAsync(
                new RedisTierOptions
                {
                    EnvironmentPrefix = settings.RedisEnvironmentPrefix!,
                    Host = settings.RedisHost,
                    Port = settings.RedisPort,
                    Db = settings.RedisDb,
                    Username = settings.RedisUsername,
                    Password = settings.RedisPassword,
                    Tls = settings.RedisTls,
                    KeysTtlSeconds = settings.RedisKeysTtlSeconds,
                    OperationTimeout = settings.RedisTimeout,
                },
                loggerFactory.CreateLogger("Sidecar.Redis"), time, cancellationToken).ConfigureAwait(false);
            tiers.Add(new RedisTier(redis));
        }

        var hot = new HotTier(hotBudget);
        status.HotBudgetBytes = hotBudget;
        StiggApiClient? client = null;
        FileSource? file = null;
        EntitlementsSource? source = null;
        switch (settings.Mode)
        {
            case SourceMode.Upstream:
                client = new StiggApiClient(UpstreamOptionsFrom(settings), loggerFactory.CreateLogger("Sidecar.Upstream"), time);
                source = new StiggSource(client);
                break;
            case SourceMode.File:
                file = FileSource.Open(settings.EntitlementsFile!, logger);
                source = file;
                break;
        }

        Func<CustomerKey, Func<CancellationToken, Task<CustomerSnapshot>>, CancellationToken, Task<CustomerSnapshot?>>? coordinate = null;
        if (redis is not null)
        {
            var coordinator = new RedisFetchCoordinator(redis, settings.EntitlementsTimeout + TimeSpan.FromMilliseconds(500));
            coordinate = async (key, fetch, ct) => await coordinator.FetchOnceAsync(key, fetch, ct).ConfigureAwait(false);
        }

        var store = new EntitlementStore(hot, tiers, source, coordinate, settings.FreshnessWindow, settings.RefetchOnEveryCheck, metrics, logger, time);
        metrics.Observe(() => hot.Bytes, () => hot.Count, () => hot.Evictions, () => hot.BudgetBytes);

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(sp => new UsageReporter(store, client, settings, sp.GetRequiredService<ILogger<UsageReporter>>()));
        builder.Services.AddSingleton<SidecarGrpcService>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<SidecarGrpcService>, SidecarMethodProvider>());
        builder.Services.AddSingleton<HealthServiceImpl>();
        builder.Services.AddGrpc(o =>
        {
            o.EnableDetailedErrors = false;
            o.IgnoreUnknownServices = false;
        });
        builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(SidecarMetrics.MeterName).AddPrometheusExporter());

        var web = builder.Build();
        var metricsHost = $"*:{settings.MetricsPort}";
        web.MapGrpcService<SidecarGrpcService>();
        web.MapGrpcService<HealthServiceImpl>();
        web.MapGet(settings.HealthPath, () => Results.Text("ok")).RequireHost(metricsHost);
        web.MapGet(settings.ReadyPath, () =>
        {
            status.CachedCustomers = hot.Count;
            status.CacheBytes = hot.Bytes;
            if (redis is not null)
            {
                status.Redis = redis.IsConnected ? "connected" : "disconnected";
            }

            return Results.Json(status, HostJsonContext.Default.SidecarStatus, statusCode: status.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).RequireHost(metricsHost);
        web.MapPrometheusScrapingEndpoint("/metrics").RequireHost(metricsHost);

        var app = new SidecarApp(web, owned, status, store, logger);
        owned.Add(store);
        if (fasterMaintenance is not null)
        {
            owned.Add(fasterMaintenance); // stopped before the tier's final checkpoint
        }

        owned.AddRange(tiers);
        if (redis is not null)
        {
            owned.Add(redis); // after the tiers: the Redis tier and the coordinator share this connection
        }

        if (client is not null)
        {
            owned.Add(new DisposeAction(client.Dispose));
        }

        if (file is not null)
        {
            owned.Add(new DisposeAction(file.Dispose));
        }

        await web.StartAsync(cancellationToken).ConfigureAwait(false);
        Log.Listening(logger, settings.GrpcUnixSocket is null ? $"port {settings.GrpcPort}" : $"port {settings.GrpcPort} and {settings.GrpcUnixSocket}", settings.MetricsPort, status.Mode);
        if (settings.LegacyTlsPort != 8443)
        {
            Log.LegacyTlsNotServed(logger);
        }

        var health = web.Services.GetRequiredService<HealthServiceImpl>();
        switch (settings.Mode)
        {
            case SourceMode.File:
                foreach (var (key, state) in file!.Customers)
                {
                    await store.ApplyEntitlementsAsync(key, state).ConfigureAwait(false);
                }

                file.Changed += (changed, removed) => _ = ApplyFileChangesAsync(store, changed, removed);
                file.StartWatching();
                status.Upstream = "file";
                break;
            case SourceMode.Offline:
                status.Upstream = "offline";
                break;
            case SourceMode.Upstream:
                status.Upstream = "connecting";
                owned.Insert(0, await StartUpstreamAsync(settings, client!, store, status, metrics, loggerFactory, time).ConfigureAwait(false));
                break;
        }

        status.StartupMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        status.MarkReady();
        health.SetStatus(string.Empty, HealthStatus.Serving);
        health.SetStatus("stigg.sidecar.v1.SidecarService", HealthStatus.Serving);
        Log.Ready(logger, hot.Count, status.StartupMs);
        return app;
    }

    public async ValueTask DisposeAsync()
    {
        Log.ShuttingDown(_logger);
        await _web.StopAsync().ConfigureAwait(false);
        foreach (var resource in _owned)
        {
            await resource.DisposeAsync().ConfigureAwait(false);
        }

        await _web.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task ApplyFileChangesAsync(EntitlementStore store, IReadOnlyDictionary<CustomerKey, Core.Json.EntitlementsStateDto> changed, IReadOnlyList<CustomerKey> removed)
    {
        foreach (var key in removed)
        {
            await store.PurgeAsync(key).ConfigureAwait(false);
        }

        foreach (var (key, state) in changed)
        {
            // The file is the truth: replace whatever is held, even if its timestamps went backwards.
            await store.PurgeAsync(key).ConfigureAwait(false);
            await store.ApplyEntitlementsAsync(key, state).ConfigureAwait(false);
        }
    }

    private static async Task<IAsyncDisposable> StartUpstreamAsync(
        SidecarSettings settings, StiggApiClient client, EntitlementStore store, SidecarStatus status, SidecarMetrics metrics, ILoggerFactory loggerFactory, TimeProvider time)
    {
        var logger = loggerFactory.CreateLogger("Sidecar.Upstream");

        // The key check runs in the background: a bad key or no network never stops the process (seed: "Error handling").
        _ = Task.Run(async () =>
        {
            try
            {
                await client.ValidateApiKeyAsync(CancellationToken.None).ConfigureAwait(false);
                status.Upstream = "connected";
            }
            catch (UpstreamException ex) when (ex.Failure == UpstreamFailure.Unauthorized)
            {
                status.Upstream = "invalid-api-key";
                Log.ApiKeyInvalid(logger);
            }
            catch (Exception ex)
            {
                status.Upstream = "unreachable";
                Log.UpstreamUnreachableAtStart(logger, ex.Message);
            }
        });

        if (!settings.WsEnabled)
        {
            status.Events = "disabled";
            return new DisposeAction(() => { });
        }

        var stream = new EventStream(
            UpstreamOptionsFrom(settings),
            new EventStreamHandlers
            {
                OnEntitlementsUpdated = (key, state) =>
                {
                    metrics.Event("entitlements");
                    return store.ApplyEntitlementsAsync(key, state);
                },
                OnUsageUpdated = (key, update) =>
                {
                    metrics.Event("usage");
                    return store.ApplyUsageAsync(key, update);
                },
                OnPackagePublished = allCustomers =>
                {
                    metrics.Event("package");
                    if (allCustomers)
                    {
                        Log.PackagePublished(logger, store.Hot.Count);
                        store.InvalidateAll();
                    }

                    return ValueTask.CompletedTask;
                },
                OnConnected = _ =>
                {
                    // Events may have been missed while we were not connected (or before we started): revalidate.
                    store.EventsLive = true;
                    store.InvalidateAll();
                    return ValueTask.CompletedTask;
                },
                OnStateChanged = state =>
                {
                    store.EventsLive = state == EventStreamState.Connected;
                    status.Events = state.ToString().ToLowerInvariant();
                    if (state == EventStreamState.InvalidApiKey)
                    {
                        status.Upstream = "invalid-api-key";
                    }

                    Log.EventStreamState(logger, status.Events);
                },
            },
            logger,
            time);
        await stream.StartAsync(CancellationToken.None).ConfigureAwait(false);
        return stream;
    }

    private static UpstreamOptions UpstreamOptionsFrom(SidecarSettings settings) => new()
    {
        ApiKey = settings.ApiKey!,
        ApiUrl = settings.ApiUrl,
        EdgeEnabled = settings.EdgeEnabled,
        EdgeApiUrl = settings.EdgeApiUrl,
        WsEnabled = settings.WsEnabled,
        WsUrl = settings.WsUrl,
        EntitlementsTimeout = settings.EntitlementsTimeout,
    };

    /// <summary>
    /// One FASTER maintenance step (checkpoint, compaction when needed) per checkpoint interval. Stop-gap until the
    /// host runs it as a hosted service.
    /// </summary>
    private sealed class FasterMaintenanceLoop : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public FasterMaintenanceLoop(FasterTier tier, TimeSpan interval, TimeProvider time)
        {
            // The timer starts now, so the first step is one interval after the tier opened.
            var timer = new PeriodicTimer(interval, time);
            _loop = Task.Run(() => RunAsync(tier, timer, _stop.Token));
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }

        private static async Task RunAsync(FasterTier tier, PeriodicTimer timer, CancellationToken cancellationToken)
        {
            using var owned = timer;
            try
            {
                while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                {
                    await tier.MaintainAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Shutdown.
            }
        }
    }

    private sealed class DisposeAction(Action dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dispose();
            return ValueTask.CompletedTask;
        }
    }
}
