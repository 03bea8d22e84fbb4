using System.Globalization;
using System.Text.Json;
using Sidecar.Cache.Faster;
using Sidecar.Cache.Hot;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Testing;

namespace Sidecar.Cache.Tests.Hot;

/// <summary>
/// The byte budget is only a memory bound if the bytes it counts are the bytes a held customer costs: the estimate
/// of a snapshot (and of its hot-tier slot) is checked against the heap that thousands of them really retain, for
/// the sample customers and the benchmark's 20-entitlement plan, parsed from Edge JSON and decoded from FASTER.
/// </summary>
[Collection(StressCollection.Name)] // measures the whole heap: no other test may allocate meanwhile
public sealed class SnapshotFootprintTests
{
    private const int Count = 3000;

    public static TheoryData<string> Shapes()
    {
        var shapes = new TheoryData<string>();
        var file = JsonSerializer.Deserialize(File.ReadAllText(RepoPaths.SampleEntitlements), CoreJsonContext.Default.EntitlementsFile)!;
        foreach (var customer in file.Customers)
        {
            shapes.Add(JsonSerializer.Serialize(customer.EntitlementsState!, CoreJsonContext.Default.EntitlementsStateDto));
        }

        shapes.Add(EntitlementStates.BenchmarkPlanJson());
        return shapes;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ApproxBytes_ParsedFromEdgeJson_CoversTheRetainedHeapWithinFifteenPercent(string stateJson)
    {
        var (measured, estimated) = Retained(i => EntitlementsStateMapper.ToSnapshot(
            CustomerAt(i), JsonSerializer.Deserialize(stateJson, CoreJsonContext.Default.EntitlementsStateDto)!, 1));

        AssertCovers(measured, estimated);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ApproxBytes_DecodedFromFaster_CoversTheRetainedHeapWithinFifteenPercent(string stateJson)
    {
        var parsed = JsonSerializer.Deserialize(stateJson, CoreJsonContext.Default.EntitlementsStateDto)!;
        var encoded = Enumerable.Range(0, Count)
            .Select(i => SnapshotCodec.Serialize(EntitlementsStateMapper.ToSnapshot(CustomerAt(i), parsed, 1)))
            .ToArray();

        var (measured, estimated) = Retained(i => SnapshotCodec.Deserialize(encoded[i]));

        AssertCovers(measured, estimated);
    }

    [Fact]
    public void HotTier_Bytes_CountEachSlotAsWellAsItsSnapshot()
    {
        var snapshots = Enumerable.Range(0, Count).Select(i => Snapshots.Snapshot([Snapshots.Boolean("f")]) is var s
            ? new CustomerSnapshot(CustomerAt(i), null, s.Features, s.Credits, 1, 1)
            : null!).ToArray();
        var hot = new HotTier(long.MaxValue);

        var before = Heap();
        foreach (var s in snapshots)
        {
            hot.Set(s);
        }

        var slots = Heap() - before;
        GC.KeepAlive(snapshots);

        // What the tier adds on top of the snapshots themselves (dictionary node, slot, clock queue cell).
        var accountedForSlots = hot.Bytes - snapshots.Sum(s => s.ApproxBytes);
        Assert.InRange(accountedForSlots, slots, slots * 1.15);
    }

    /// <summary>
    /// The heap the snapshots retain, measured three times and the least kept: the heap is the whole process's, and
    /// what earlier tests left running (connections, timers) can grow it between the two readings by a few bytes a
    /// snapshot, which the estimate is not meant to cover.
    /// </summary>
    private static (long Measured, long Estimated) Retained(Func<int, CustomerSnapshot> make)
    {
        var measured = long.MaxValue;
        long estimated = 0;
        for (var trial = 0; trial < 3; trial++)
        {
            var held = new CustomerSnapshot[Count];
            var before = Heap();
            for (var i = 0; i < Count; i++)
            {
                held[i] = make(i);
            }

            measured = Math.Min(measured, Heap() - before);
            estimated = held.Sum(s => s.ApproxBytes);
            GC.KeepAlive(held);
        }

        return (measured, estimated);
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static void AssertCovers(long measured, long estimated)
    {
        // Never under: the budget must bound the heap. Not far over (15 %, or 80 bytes for an empty list): the budget
        // should hold as many customers as it can.
        Assert.True(
            estimated >= measured && estimated <= Math.Max(measured * 1.15, measured + (80 * Count)),
            $"estimated {estimated / Count} B a snapshot, measured {measured / Count} B");
    }

    private static CustomerKey CustomerAt(int i) => new("cust-" + i.ToString("D6", CultureInfo.InvariantCulture), null);
}
