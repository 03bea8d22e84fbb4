using Sidecar.Cache.Hot;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Cache.Tests.Hot;

/// <summary>What is particular to the hot tier; the guards all tiers share are in <see cref="Contract.HotTierContractTests"/>.</summary>
[Collection(StressCollection.Name)]
public sealed class HotTierTests
{
    private static CustomerSnapshot Snapshot(string customer, long timestamp, double usage = 0, long usageAt = 0, int features = 1) =>
        new(
            new CustomerKey(customer, null),
            null,
            [.. Enumerable.Range(0, features).Select(i => new FeatureEntitlement
            {
                FeatureId = i == 0 ? "calls" : $"f{i}",
                FeatureType = FeatureType.Number,
                MeterType = MeterType.Incremental,
                UsageLimit = 100,
                CurrentUsage = usage,
                UsageUpdatedAt = usageAt,
                EntitlementUpdatedAt = timestamp,
            })],
            [],
            timestamp,
            fetchedAt: timestamp);

    [Fact]
    public void Set_ThenTryGet_ReturnsTheSameSnapshot()
    {
        var hot = new HotTier(1 << 20);
        var s = Snapshot("a", 10);

        hot.Set(s);

        Assert.True(hot.TryGet(s.Key, out var got));
        Assert.Same(s, got);
        Assert.Equal(s.ApproxBytes + HotTier.SlotBytes, hot.Bytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Reserve_BeforeOrAfterWrites_KeepsEveryCustomerAndItsBytes(bool reserveFirst)
    {
        var hot = new HotTier(long.MaxValue);
        var early = Snapshot("early", 1);
        Assert.False(hot.TryGet(early.Key, out _));
        if (reserveFirst)
        {
            hot.Reserve(10_000);
        }

        hot.Set(early);
        hot.Reserve(10_000);
        var many = Enumerable.Range(0, 5000).Select(i => Snapshot("c" + i, 1)).ToArray();
        foreach (var s in many)
        {
            hot.Set(s);
        }

        Assert.Equal(5001, hot.Count);
        Assert.True(hot.TryGet(early.Key, out var held));
        Assert.Same(early, held);
        Assert.True(hot.TryGet(many[4999].Key, out held));
        Assert.Same(many[4999], held);
        Assert.Equal(many.Sum(s => s.ApproxBytes + HotTier.SlotBytes) + early.ApproxBytes + HotTier.SlotBytes, hot.Bytes);
    }

    [Fact]
    public void Set_NewerEntitlementsButOlderUsage_KeepsHeldUsage()
    {
        var hot = new HotTier(1 << 20);
        hot.Set(Snapshot("a", 10, usage: 70, usageAt: 500));

        var held = hot.Set(Snapshot("a", 20, usage: 40, usageAt: 400));

        Assert.Equal(20, held.EntitlementsTimestamp);
        Assert.True(held.TryGetFeature("calls", out var f));
        Assert.Equal(70, f.CurrentUsage);
        Assert.Equal(500, f.UsageUpdatedAt);
    }

    [Fact]
    public void OverBudget_EvictsColdCustomers_KeepsRecentlyRead()
    {
        var one = Snapshot("probe", 1, features: 5).ApproxBytes;
        var hot = new HotTier(one * 10);
        var evicted = new List<CustomerKey>();
        hot.Evicted += evicted.Add;
        hot.Set(Snapshot("hot", 1, features: 5));

        for (var i = 0; i < 100; i++)
        {
            Assert.True(hot.TryGet(new CustomerKey("hot", null), out _));
            hot.Set(Snapshot($"c{i}", 1, features: 5));
        }

        Assert.True(hot.Bytes <= hot.BudgetBytes);
        Assert.True(hot.Count <= 10);
        Assert.True(hot.TryGet(new CustomerKey("hot", null), out _));
        Assert.Equal(hot.Evictions, evicted.Count);
        Assert.True(evicted.Count >= 90);
        Assert.DoesNotContain(new CustomerKey("hot", null), evicted);
    }

    [Fact]
    public void Remove_ReleasesBytes()
    {
        var hot = new HotTier(1 << 20);
        hot.Set(Snapshot("a", 1));

        Assert.True(hot.Remove(new CustomerKey("a", null)));
        Assert.Equal(0, hot.Bytes);
        Assert.False(hot.TryGet(new CustomerKey("a", null), out _));
    }

    [Fact]
    public async Task ConcurrentWritersAndReaders_AccountingStaysExact()
    {
        var hot = new HotTier(1L << 30);
        var keys = Enumerable.Range(0, 64).Select(i => $"c{i}").ToArray();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var n = 0; n < 5_000; n++)
            {
                var customer = keys[(n * 7 + t) % keys.Length];
                hot.Set(Snapshot(customer, n, features: 1 + (n % 3)));
                hot.ApplyUsage(new CustomerKey(customer, null), new UsageUpdate(EntitlementRefType.Feature, "calls", n, null, null, n));
                if (n % 97 == 0)
                {
                    hot.Remove(new CustomerKey(customer, null));
                }

                hot.TryGet(new CustomerKey(customer, null), out _);
            }
        })));

        long expected = 0;
        foreach (var key in hot.Keys)
        {
            Assert.True(hot.TryGet(key, out var s));
            expected += s.ApproxBytes + HotTier.SlotBytes;
        }

        Assert.Equal(expected, hot.Bytes);
    }
}
