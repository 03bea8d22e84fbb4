using Sidecar.Host.Configuration;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Puts the process under the GC heap hard limit its settings derive (CACHE_MAX_SIZE_BYTES plus
/// <see cref="SidecarSettings.HeapBaseBytes"/>). Without it the workstation GC sizes its generations from the machine:
/// under a load that evicts all the time, evicted snapshots die in gen2 and the heap grew to 3–4× the budget before a
/// full collection. Under the limit the GC collects harder as the heap nears it, so RSS stays within budget + base.
/// Only the sidecar process calls this (Program), never an in-process test host.
/// </summary>
internal static class HeapLimit
{
    /// <summary>Applies the limit unless the operator set one (DOTNET_GCHeapHardLimit*); returns the limit in force, or null.</summary>
    public static ulong? Apply(SidecarSettings settings)
    {
        if (Environment.GetEnvironmentVariable("DOTNET_GCHeapHardLimit") is not null
            || Environment.GetEnvironmentVariable("DOTNET_GCHeapHardLimitPercent") is not null)
        {
            return null;
        }

        // GC.RefreshMemoryLimit re-reads GCHeapHardLimit from the AppContext (Native AOT included); 0 would mean none.
        AppContext.SetData("GCHeapHardLimit", (ulong)settings.HeapHardLimitBytes);
        GC.RefreshMemoryLimit();
        return (ulong)GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }
}
