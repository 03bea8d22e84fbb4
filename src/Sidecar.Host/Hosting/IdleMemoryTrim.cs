using Microsoft.Extensions.Hosting;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Gives memory back after a burst. The GC only runs when something allocates, so after a burst of connections (or an
/// abusive client) an idle sidecar keeps what the burst took for good. Every interval, when the process allocated
/// next to nothing since the last look but holds clearly more than after the last trim, one aggressive collection
/// (which decommits what it frees) returns it. Never under load: a busy sidecar collects by itself.
/// </summary>
internal sealed class IdleMemoryTrim(TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    /// <summary>Less than this allocated in an interval is idle (a few checks a second allocate more).</summary>
    private const long IdleAllocationBytes = 1 << 20;

    /// <summary>Committed memory this far above the last trim is worth one full collection.</summary>
    private const long GrowthBytes = 8 << 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        var allocated = GC.GetTotalAllocatedBytes();
        var baseline = GC.GetGCMemoryInfo().TotalCommittedBytes;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var nowAllocated = GC.GetTotalAllocatedBytes();
                var committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
                if (nowAllocated - allocated < IdleAllocationBytes && committed - baseline > GrowthBytes)
                {
                    GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    baseline = GC.GetGCMemoryInfo().TotalCommittedBytes; // what is left is live: trim again only past it
                }
                else
                {
                    baseline = Math.Min(baseline, committed);
                }

                allocated = GC.GetTotalAllocatedBytes();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
