using Microsoft.Extensions.Hosting;
using Sidecar.Cache.Faster;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Checkpoints the FASTER tier every CACHE_CHECKPOINT_INTERVAL_SECS (and compacts its log when it outgrows its disk
/// bound), so a restart recovers at most one interval behind. The final checkpoint is the tier's own, on dispose.
/// </summary>
internal sealed class FasterMaintenance(FasterTier faster, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(faster.Options.CheckpointInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await faster.MaintainAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
