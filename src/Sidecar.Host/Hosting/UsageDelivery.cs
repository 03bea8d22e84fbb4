using Microsoft.Extensions.Hosting;
using Sidecar.Cache;
using Sidecar.Upstream;
using Sidecar.Upstream.Outbox;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Delivers what the usage outbox holds, in order, whenever Stigg answers; each delivered report's absolute usage
/// (Stigg's answer) replaces the local estimate in the cache.
/// </summary>
internal sealed class UsageDelivery(UsageOutbox outbox, StiggApiClient client, TieredEntitlementCache cache) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await outbox.RunDeliveryAsync(client, (results, _) => cache.ApplyUsageResultsAsync(results), stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
