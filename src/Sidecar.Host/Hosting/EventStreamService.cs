using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sidecar.Cache;
using Sidecar.Host.Diagnostics;
using Sidecar.Upstream;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Stigg's real-time events (WS_ENABLED): entitlement and usage changes are written through the cache as they arrive;
/// a (re)connect or a package published to all customers revalidates what is held, since events may have been missed.
/// </summary>
internal sealed class EventStreamService(
    UpstreamOptions options,
    TieredEntitlementCache cache,
    SidecarStatus status,
    SidecarMetrics metrics,
    ILogger<EventStreamService> logger,
    TimeProvider time) : IHostedService, IAsyncDisposable
{
    private EventStream? _stream;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        status.Events = "connecting";
        _stream = new EventStream(options, Handlers(), logger, time);
        await _stream.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stream, null) is { } stream)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private EventStreamHandlers Handlers() => new()
    {
        OnEntitlementsUpdated = snapshot =>
        {
            metrics.Event("entitlements");
            return cache.ApplySnapshotAsync(snapshot);
        },
        OnEntitlementsRemoved = key =>
        {
            metrics.Event("entitlements");
            return cache.RemoveAsync(key);
        },
        OnUsageUpdated = (key, update) =>
        {
            metrics.Event("usage");
            return cache.ApplyUsageAsync(key, update);
        },
        OnPackagePublished = allCustomers =>
        {
            metrics.Event("package");
            if (allCustomers)
            {
                Log.PackagePublished(logger, cache.Hot.Count);
                cache.InvalidateAll();
            }

            return ValueTask.CompletedTask;
        },
        OnConnected = _ =>
        {
            // Events may have been missed while we were not connected (or before we started): revalidate.
            cache.EventsLive = true;
            cache.InvalidateAll();
            return ValueTask.CompletedTask;
        },
        OnStateChanged = state =>
        {
            cache.EventsLive = state == EventStreamState.Connected;
            status.Events = state.ToString().ToLowerInvariant();
            if (state == EventStreamState.InvalidApiKey)
            {
                status.Upstream = "invalid-api-key";
            }

            Log.EventStreamState(logger, status.Events);
        },
    };
}
