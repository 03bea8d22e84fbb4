using System.Diagnostics;
using Grpc.HealthCheck;
using Grpc.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sidecar.Cache;
using Sidecar.Host.Configuration;
using Sidecar.Host.Diagnostics;
using Sidecar.Host.Hosting;
using Sidecar.Host.Rpc;
using Sidecar.Upstream.Outbox;
using HealthStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Sidecar.Host;

/// <summary>
/// The composition root: the web host (logging, listeners, endpoints) around <see cref="SidecarServices"/>. Start
/// opens the tiers, then the host starts the hosted services and the listeners; the sidecar is ready once it
/// listens. Stop drains requests, stops the hosted services, then the container disposes the cache and the tiers.
/// </summary>
internal sealed class SidecarApp : IAsyncDisposable
{
    private readonly WebApplication _web;
    private readonly JsonLineLoggerProvider _logs;

    private SidecarApp(WebApplication web, JsonLineLoggerProvider logs)
    {
        _web = web;
        _logs = logs;
    }

    public SidecarStatus Status => _web.Services.GetRequiredService<SidecarStatus>();

    public TieredEntitlementCache Cache => _web.Services.GetRequiredService<TieredEntitlementCache>();

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl-C, or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync() => _web.WaitForShutdownAsync();

    public static Task<SidecarApp> StartAsync(SidecarSettings settings, TimeProvider time, Stream logOutput, CancellationToken cancellationToken) =>
        StartAsync(settings, time, logOutput, httpServer: null, cancellationToken);

    /// <summary>
    /// Starts on <paramref name="httpServer"/> instead of Kestrel: the in-process benchmark brings one that hands requests
    /// to the same pipeline (hosting, routing, grpc-dotnet, our service) without sockets.
    /// </summary>
    internal static async Task<SidecarApp> StartAsync(SidecarSettings settings, TimeProvider time, Stream logOutput, IServer? httpServer, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();

        // Content root = the binary's folder, and no config-reload watchers: otherwise the host puts an inotify watch on
        // every directory below the working directory (all of / for a unit started there).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        var logs = ConfigureLogging(builder.Logging, settings, logOutput, time);
        builder.Host.UseSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureListeners(kestrel, settings.Server));
        if (httpServer is not null)
        {
            builder.Services.AddSingleton(httpServer);
        }

        var status = new SidecarStatus();
        builder.Services.AddSidecar(settings, status, time);
        builder.Services.AddHostedService(sp => new ReadyOnStarted(() =>
        {
            status.StartupMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            status.MarkReady();
            var health = sp.GetRequiredService<HealthServiceImpl>();
            health.SetStatus(string.Empty, HealthStatus.Serving);
            health.SetStatus("stigg.sidecar.v1.SidecarService", HealthStatus.Serving);
        }));
        var web = builder.Build();
        try
        {
            var tiers = web.Services.GetRequiredService<CacheTiers>();
            await tiers.OpenAsync(cancellationToken).ConfigureAwait(false);
            var cache = web.Services.GetRequiredService<TieredEntitlementCache>();
            status.Mode = status.Upstream = cache.Source.Mode;
            if (tiers.Redis is { } redis)
            {
                web.Services.GetRequiredService<SidecarMetrics>().Observe(redis);
            }

            MapEndpoints(web, settings.Server, status, cache, tiers);
            await web.StartAsync(cancellationToken).ConfigureAwait(false);

            var logger = web.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sidecar");
            var server = settings.Server;
            Log.Listening(logger, server.GrpcUnixSocket is null ? $"port {server.GrpcPort}" : $"port {server.GrpcPort} and {server.GrpcUnixSocket}", server.MetricsPort, status.Mode);
            if (server.LegacyTlsPort != new ServerSettings().LegacyTlsPort)
            {
                Log.LegacyTlsNotServed(logger);
            }

            Log.Ready(logger, cache.Hot.Count, status.StartupMs);
            return new SidecarApp(web, logs);
        }
        catch
        {
            // Nothing started for good: close what was opened (the container disposes the tiers) and say why.
            await web.DisposeAsync().ConfigureAwait(false);
            logs.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Log.ShuttingDown(_web.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sidecar"));
        await _web.StopAsync().ConfigureAwait(false);
        await _web.DisposeAsync().ConfigureAwait(false);
        _logs.Dispose(); // last: what the shutdown logged is written out
    }

    private static JsonLineLoggerProvider ConfigureLogging(ILoggingBuilder logging, SidecarSettings settings, Stream output, TimeProvider time)
    {
        var minimum = settings.Logging.Level switch
        {
            LogLevelSetting.Error => LogLevel.Error,
            LogLevelSetting.Warn => LogLevel.Warning,
            LogLevelSetting.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        var provider = new JsonLineLoggerProvider(output, minimum, settings.Logging.MessageKey, settings.Logging.ErrorKey, settings.Secrets, time);
        logging.ClearProviders();
        logging.AddProvider(provider);
        logging.SetMinimumLevel(minimum);

        // The framework's own chatter stays at warning unless we debug; an enabled hosting-diagnostics logger would make
        // ASP.NET create an Activity per request, and we log no request lines.
        logging.AddFilter("Microsoft", minimum < LogLevel.Information ? minimum : LogLevel.Warning);
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        return provider;
    }

    private static void ConfigureListeners(KestrelServerOptions kestrel, ServerSettings server)
    {
        kestrel.AddServerHeader = false;

        // A sidecar serves its own application: hundreds of idle or half-open connections are a fault or an abuse, and
        // each holds buffers. Bound them, close idle ones, and find dead peers with HTTP/2 pings.
        kestrel.Limits.MaxConcurrentConnections = 512;
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(60);
        kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(30);
        kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
        kestrel.Limits.Http2.MaxStreamsPerConnection = 1024;
        kestrel.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
        kestrel.Limits.Http2.InitialStreamWindowSize = 1024 * 1024;
        void Listen(int port, HttpProtocols protocols)
        {
            if (server.BindAddress is { } address)
            {
                kestrel.Listen(address, port, o => o.Protocols = protocols);
            }
            else
            {
                kestrel.ListenAnyIP(port, o => o.Protocols = protocols);
            }
        }

        Listen(server.GrpcPort, HttpProtocols.Http2);
        if (server.GrpcUnixSocket is { } socket)
        {
            if (File.Exists(socket))
            {
                File.Delete(socket); // a stale socket from a previous run would make bind fail
            }

            kestrel.ListenUnixSocket(socket, o => o.Protocols = HttpProtocols.Http2);
        }

        Listen(server.MetricsPort, HttpProtocols.Http1); // scrapers and probes speak HTTP/1.1
    }

    private static void MapEndpoints(WebApplication web, ServerSettings server, SidecarStatus status, TieredEntitlementCache cache, CacheTiers tiers)
    {
        web.UseManagementPortSeparation(server.MetricsPort);

        web.UseRootServices();
        var outbox = web.Services.GetService<UsageOutbox>();
        web.MapGrpcService<SidecarGrpcService>();
        web.MapGrpcService<HealthServiceImpl>();
        if (server.GrpcReflection)
        {
            web.MapGrpcService<ReflectionServiceImpl>();
        }

        web.UseUnimplementedForUnknownMethods(SidecarServices.GrpcServices(server).Select(s => s.FullName).ToHashSet());

        web.MapGet(server.HealthPath, () => Results.Text("ok")).RequireManagementPort();
        web.MapGet(server.ReadyPath, () =>
        {
            status.CachedCustomers = cache.Hot.Count;
            status.CacheBytes = cache.Hot.Bytes;
            status.HotBudgetBytes = cache.Hot.BudgetBytes;
            if (tiers.Redis is { } redis)
            {
                status.Redis = redis.IsConnected ? "connected" : "disconnected";
            }

            if (outbox is not null)
            {
                status.UsageOutbox = new OutboxStatus
                {
                    Durable = outbox.IsDurable,
                    Depth = outbox.Depth,
                    Bytes = outbox.SizeBytes,
                    CapacityBytes = outbox.CapacityBytes,
                    OldestAgeSeconds = outbox.OldestEntryAge.TotalSeconds,
                    Delivered = outbox.DeliveredCount,
                    Rejected = outbox.RejectedCount,
                };
            }

            return Results.Json(status, HostJsonContext.Default.SidecarStatus, statusCode: status.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).RequireManagementPort();
        web.MapPrometheusScrapingEndpoint("/metrics").RequireManagementPort();
    }
}
