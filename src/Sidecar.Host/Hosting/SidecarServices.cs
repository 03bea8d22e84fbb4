using Grpc.AspNetCore.Server.Model;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Grpc.Reflection;
using Grpc.Reflection.V1Alpha;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Sidecar.Cache;
using Sidecar.Cache.Hot;
using Sidecar.Host.Configuration;
using Sidecar.Host.Diagnostics;
using Sidecar.Host.Rpc;
using Sidecar.Host.Sources;
using Sidecar.Upstream;
using Sidecar.Upstream.Outbox;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Hosting;

/// <summary>
/// What the sidecar is made of, as services: the source of the configured mode (the one place the mode is decided)
/// with its hosted services, the tiers, the read-through cache, the gRPC service and the metrics. Singletons the
/// container creates are disposed by it in reverse order: the cache (draining write-backs) before the tiers.
/// </summary>
internal static class SidecarServices
{
    /// <summary>The gRPC services the sidecar serves: what reflection lists, and what <c>UnknownMethods</c> knows.</summary>
    public static Google.Protobuf.Reflection.ServiceDescriptor[] GrpcServices(ServerSettings server) => server.GrpcReflection
        ? [SidecarService.Descriptor, Health.Descriptor, ServerReflection.Descriptor]
        : [SidecarService.Descriptor, Health.Descriptor];

    public static IServiceCollection AddSidecar(this IServiceCollection services, SidecarSettings settings, SidecarStatus status, TimeProvider time)
    {
        services.AddSingleton(time);
        services.AddSingleton(status);
        services.AddSingleton(settings.Fallbacks);
        services.AddSingleton(settings.Cache);
        services.AddSingleton<SidecarMetrics>();
        services.AddSingleton<CacheTiers>(sp => new(settings, status, sp.GetRequiredService<SidecarMetrics>(), sp.GetRequiredService<ILoggerFactory>(), time));
        services.AddSingleton(sp => new TieredEntitlementCache(
            settings.Cache,
            new HotTier(settings.HotBudgetBytes),
            sp.GetRequiredService<CacheTiers>().All,
            sp.GetRequiredService<IEntitlementsSource>(),
            sp.GetRequiredService<CacheTiers>().Coordinator,
            sp.GetRequiredService<ILogger<TieredEntitlementCache>>(),
            time));

        switch (settings.Mode)
        {
            case SourceMode.Stigg:
                services.AddSingleton(settings.Stigg!);
                services.AddSingleton(sp =>
                {
                    var client = new StiggApiClient(settings.Stigg!, sp.GetRequiredService<ILogger<StiggApiClient>>(), time);
                    status.StiggCircuit = Name(client.CircuitState);
                    client.CircuitStateChanged += (_, change) => status.StiggCircuit = Name(change.State);
                    return client;
                });
                services.AddSingleton(sp => OpenOutbox(settings, sp.GetRequiredService<ILogger<UsageOutbox>>(), sp.GetRequiredService<SidecarMetrics>(), time));
                services.AddSingleton<IEntitlementsSource>(sp => new StiggSource(
                    sp.GetRequiredService<StiggApiClient>(), sp.GetRequiredService<UsageOutbox>(), sp.GetRequiredService<ILogger<StiggSource>>()));
                services.AddHostedService<ApiKeyCheck>();
                services.AddHostedService<UsageDelivery>();
                if (settings.Stigg!.WsEnabled)
                {
                    services.AddHostedService<EventStreamService>();
                }

                break;
            case SourceMode.File:
                services.AddSingleton(sp => FileSource.Open(settings.EntitlementsFile!, sp.GetRequiredService<ILogger<FileSource>>(), time));
                services.AddSingleton<IEntitlementsSource>(sp => sp.GetRequiredService<FileSource>());
                services.AddHostedService<EntitlementsFileWatcher>();
                break;
            case SourceMode.Offline:
                services.AddSingleton<IEntitlementsSource, OfflineSource>();
                break;
        }

        if (settings.Faster is not null)
        {
            services.AddHostedService(sp => new FasterMaintenance(sp.GetRequiredService<CacheTiers>().Faster!, time));
        }

        services.AddHostedService<IdleMemoryTrim>();
        services.AddSingleton<SidecarGrpcService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<SidecarGrpcService>, SidecarMethodProvider>());
        services.AddSingleton<HealthServiceImpl>();
        if (settings.Server.GrpcReflection)
        {
            // Grpc.Reflection's service over the generated descriptors, not Grpc.AspNetCore.Server.Reflection: that
            // one discovers services by reflecting on their types (trim warnings), and our method provider is custom.
            services.AddSingleton(new ReflectionServiceImpl(GrpcServices(settings.Server)));
        }

        services.AddGrpc(o =>
        {
            o.EnableDetailedErrors = false;
            o.IgnoreUnknownServices = true; // no catch-all routes: UnknownMethods answers UNIMPLEMENTED instead
        });
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(settings.Telemetry.ServiceName, serviceVersion: SidecarVersion.Informational))
            .WithMetrics(m =>
            {
                // Ours, then the runtime's (GC, heap, JIT, thread pool, exceptions: System.Runtime on .NET 9+), the
                // process's (CPU, memory, threads) and Kestrel's (connections, queues). No per-request HTTP meter:
                // it would cost every gRPC call, and sidecar.grpc.* already counts and times them.
                m.AddMeter(SidecarMetrics.MeterName, "System.Runtime", "Microsoft.AspNetCore.Server.Kestrel")
                    .AddProcessInstrumentation()

                    // Every stream allocates its cardinality limit of points up front: OpenTelemetry's default of 2000
                    // put 7 MB on the large-object heap for our ~35 streams. The widest is requests by method and code.
                    // Kestrel's one per-request instrument is dropped (so not listened to): recorded twice on every call
                    // (queued, then dequeued) with five tags to look up each time, it took ~2 % of the CPU under load.
                    .AddView(static instrument => instrument.Name == "kestrel.queued_requests"
                        ? MetricStreamConfiguration.Drop
                        : new MetricStreamConfiguration { CardinalityLimit = 256 })
                    .AddPrometheusExporter();
                if (settings.Telemetry.OtlpEndpoint is not null)
                {
                    // The exporter reads OTEL_EXPORTER_OTLP_* itself (endpoint, protocol, headers) as the spec defines.
                    m.AddOtlpExporter();
                }
            });
        return services;
    }

    /// <summary>The usage outbox; a CACHE_DIR it cannot use is a start that cannot work (said in one line).</summary>
    private static UsageOutbox OpenOutbox(SidecarSettings settings, ILogger logger, SidecarMetrics metrics, TimeProvider time)
    {
        UsageOutbox outbox;
        try
        {
            outbox = UsageOutbox.Open(settings.Outbox, logger, time);
        }
        catch (IOException ex) when (ex.HResult == StartupFailure.ReadOnlyFileSystemErrno)
        {
            Log.OutboxInMemory(logger, ex.Message);
            var o = settings.Outbox;
            var inMemory = new UsageOutboxOptions { MaxBytes = o.MaxBytes, MaxBatchSize = o.MaxBatchSize, RetryBaseDelay = o.RetryBaseDelay, RetryMaxDelay = o.RetryMaxDelay };
            outbox = UsageOutbox.Open(inMemory, logger, time);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"CACHE_DIR: cannot open the usage outbox in '{settings.Outbox.Directory}': {ex.Message}", ex);
        }

        metrics.Observe(outbox);
        return outbox;
    }

    private static string Name(StiggCircuitState state) => state switch
    {
        StiggCircuitState.Open => "open",
        StiggCircuitState.HalfOpen => "halfOpen",
        _ => "closed",
    };
}
