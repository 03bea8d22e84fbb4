using Sidecar.Host.Configuration;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Keeps the GC heap within CACHE_MAX_SIZE_BYTES plus <see cref="SidecarSettings.HeapBaseBytes"/>. Under a load that
/// evicts all the time, evicted snapshots die in gen2, and the workstation GC let gen2 garbage grow to 3–4× the
/// budget before it collected (GCgen0size, GCgen0MaxBudget and GCConserveMemory changed nothing). Two measures, measured
/// together (bench/RESULTS.md, Memory budget): the GC heap hard limit, set to the budget plus twice the heap base (it
/// makes the GC size its generations from the limit; at the budget plus one base, FASTER reads and writes failed with
/// OutOfMemoryException with half the limit live, so it is only a backstop), and a soft limit at the budget plus one
/// base: a look every 50 ms, and a full compacting collection when the committed heap is over it and the used heap has
/// grown since the last one. Only the sidecar process starts it (Program), never an in-process test host.
/// </summary>
internal sealed class HeapGovernor : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    private readonly long _limitBytes;

    /// <summary>Growth of the used heap since the last induced collection below which another one is not worth it.</summary>
    private readonly long _minGrowthBytes;

    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private long _collections;

    private HeapGovernor(long limitBytes, long minGrowthBytes)
    {
        _limitBytes = limitBytes;
        _minGrowthBytes = minGrowthBytes;

        // A thread of its own: a thread pool starved by a burst must not delay the collection the burst needs.
        _thread = new Thread(Run) { IsBackground = true, Name = "heap governor" };
    }

    /// <summary>Collections this governor induced.</summary>
    public long Collections => Interlocked.Read(ref _collections);

    public static HeapGovernor Start(SidecarSettings settings)
    {
        // GC.RefreshMemoryLimit re-reads GCHeapHardLimit from the AppContext (Native AOT included). An operator's
        // DOTNET_GCHeapHardLimit* wins.
        if (Environment.GetEnvironmentVariable("DOTNET_GCHeapHardLimit") is null
            && Environment.GetEnvironmentVariable("DOTNET_GCHeapHardLimitPercent") is null)
        {
            AppContext.SetData("GCHeapHardLimit", (ulong)settings.HeapHardLimitBytes);
            GC.RefreshMemoryLimit();
        }

        var governor = new HeapGovernor(settings.HeapLimitBytes, SidecarSettings.HeapBaseBytes / 4);
        governor._thread.Start();
        return governor;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
    }

    private void Run()
    {
        var live = GC.GetTotalMemory(forceFullCollection: false);
        while (!_stop.Token.WaitHandle.WaitOne(Interval))
        {
            var used = GC.GetTotalMemory(forceFullCollection: false);

            // When the live data alone is over the limit, collecting at every look would only burn CPU: wait for growth.
            if (used - live < _minGrowthBytes || GC.GetGCMemoryInfo().TotalCommittedBytes <= _limitBytes)
            {
                live = Math.Min(live, used);
                continue;
            }

            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            live = GC.GetTotalMemory(forceFullCollection: false);
            Interlocked.Increment(ref _collections);
        }
    }
}
