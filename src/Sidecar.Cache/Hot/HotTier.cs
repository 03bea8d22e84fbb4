using System.Collections.Concurrent;
using Sidecar.Core.Model;

namespace Sidecar.Cache.Hot;

/// <summary>
/// The in-process tier every check reads first. Reads are a lock-free dictionary probe plus one field read; writers
/// swap whole immutable snapshots (copy-on-write) under timestamp guards. Memory is bounded by a byte budget: when a
/// write pushes the total over it, cold customers are evicted with the CLOCK (second-chance) algorithm, so a customer
/// read since the clock hand last passed survives. Evicted customers stay in the persistent tier below.
/// </summary>
public sealed class HotTier
{
    private readonly ConcurrentDictionary<CustomerKey, Entry> _entries = new();
    private readonly ConcurrentQueue<Entry> _clock = new();
    private readonly Lock _evictionLock = new();
    private long _bytes;
    private long _evictions;

    public HotTier(long budgetBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(budgetBytes);
        BudgetBytes = budgetBytes;
    }

    public long BudgetBytes { get; }

    /// <summary>Accounted bytes of the snapshots held now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public int Count => _entries.Count;

    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>Raised (on the writer's thread) for each customer dropped to stay within the budget.</summary>
    public event Action<CustomerKey>? Evicted;

    public ICollection<CustomerKey> Keys => _entries.Keys;

    /// <summary>The hit path: no lock, no allocation, never waits.</summary>
    public bool TryGet(CustomerKey key, out CustomerSnapshot snapshot)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            // Write only when the bit is clear, so hot entries are not written on every read.
            if (entry.Referenced == 0)
            {
                entry.Referenced = 1;
            }

            snapshot = entry.Snapshot;
            return true;
        }

        snapshot = null!;
        return false;
    }

    /// <summary>
    /// Stores a snapshot unless the held one has a newer entitlements timestamp (an incoming timestamp of epoch 0, an
    /// emptied list, always wins). Usage the held snapshot knows more
    /// recently than the incoming one (a usage event that overtook a fetch) is kept. Returns what is held afterwards.
    /// </summary>
    public CustomerSnapshot Set(CustomerSnapshot incoming)
    {
        while (true)
        {
            if (!_entries.TryGetValue(incoming.Key, out var entry))
            {
                var created = new Entry(incoming.Key, incoming);
                if (_entries.TryAdd(incoming.Key, created))
                {
                    _clock.Enqueue(created);
                    AddBytes(incoming.ApproxBytes);
                    return incoming;
                }

                continue;
            }

            var held = entry.Snapshot;
            // Epoch 0 marks an emptied list (customer deleted, subscription gone): it always wins, as in Stigg's guard.
            if (incoming.EntitlementsTimestamp != 0 && held.EntitlementsTimestamp > incoming.EntitlementsTimestamp)
            {
                // Stale entitlements; still take the confirmation time so the freshness window restarts.
                return incoming.FetchedAt > held.FetchedAt ? Swap(entry, held, held.WithFetchedAt(incoming.FetchedAt)) ?? entry.Snapshot : held;
            }

            var merged = KeepNewerUsage(incoming, held);
            if (Swap(entry, held, merged) is { } stored)
            {
                return stored;
            }
        }
    }

    /// <summary>Applies an absolute usage value to a held customer; null when not held or the update is stale.</summary>
    public CustomerSnapshot? ApplyUsage(CustomerKey key, UsageUpdate update)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            return null;
        }

        while (true)
        {
            var held = entry.Snapshot;
            var updated = held.WithUsage(update);
            if (updated is null)
            {
                return null;
            }

            if (Swap(entry, held, updated) is { } stored)
            {
                return stored;
            }
        }
    }

    public bool Remove(CustomerKey key)
    {
        if (_entries.TryRemove(key, out var entry))
        {
            AddBytes(-entry.Snapshot.ApproxBytes);
            return true;
        }

        return false;
    }

    public void Clear()
    {
        foreach (var key in _entries.Keys)
        {
            Remove(key);
        }
    }

    private CustomerSnapshot? Swap(Entry entry, CustomerSnapshot expected, CustomerSnapshot replacement)
    {
        if (!ReferenceEquals(Interlocked.CompareExchange(ref entry.Snapshot, replacement, expected), expected))
        {
            return null;
        }

        // An entry removed meanwhile no longer counts toward the budget; only a live one changes the total.
        if (_entries.TryGetValue(entry.Key, out var current) && ReferenceEquals(current, entry))
        {
            AddBytes(replacement.ApproxBytes - expected.ApproxBytes);
        }

        return replacement;
    }

    private void AddBytes(long delta)
    {
        if (Interlocked.Add(ref _bytes, delta) > BudgetBytes && delta > 0)
        {
            EvictOverBudget();
        }
    }

    private void EvictOverBudget()
    {
        // One evictor at a time; other writers go on (the budget is a soft bound for the length of one sweep).
        if (!_evictionLock.TryEnter())
        {
            return;
        }

        try
        {
            // Each entry gets at most one second chance per sweep, so the loop ends even if every entry is hot.
            var budgetOfVisits = (_clock.Count * 2) + 1;
            while (Interlocked.Read(ref _bytes) > BudgetBytes && budgetOfVisits-- > 0 && _clock.TryDequeue(out var entry))
            {
                if (!_entries.TryGetValue(entry.Key, out var current) || !ReferenceEquals(current, entry))
                {
                    continue; // removed or replaced by a newer entry since it was queued
                }

                if (entry.Referenced != 0)
                {
                    entry.Referenced = 0;
                    _clock.Enqueue(entry);
                    continue;
                }

                if (((ICollection<KeyValuePair<CustomerKey, Entry>>)_entries).Remove(new KeyValuePair<CustomerKey, Entry>(entry.Key, entry)))
                {
                    AddBytesNoEvict(-entry.Snapshot.ApproxBytes);
                    Interlocked.Increment(ref _evictions);
                    Evicted?.Invoke(entry.Key);
                }
            }
        }
        finally
        {
            _evictionLock.Exit();
        }
    }

    private void AddBytesNoEvict(long delta) => Interlocked.Add(ref _bytes, delta);

    private static CustomerSnapshot KeepNewerUsage(CustomerSnapshot incoming, CustomerSnapshot held)
    {
        var result = incoming;
        foreach (var heldFeature in held.Features)
        {
            if (result.TryGetFeature(heldFeature.FeatureId, out var f) && heldFeature.UsageUpdatedAt > f.UsageUpdatedAt)
            {
                result = result.WithUsage(new UsageUpdate(EntitlementRefType.Feature, f.FeatureId, heldFeature.CurrentUsage,
                    heldFeature.UsagePeriodStart, heldFeature.UsagePeriodEnd, heldFeature.UsageUpdatedAt)) ?? result;
            }
        }

        foreach (var heldCredit in held.Credits)
        {
            if (result.TryGetCredit(heldCredit.CurrencyId, out var c) && heldCredit.UsageUpdatedAt > c.UsageUpdatedAt)
            {
                result = result.WithUsage(new UsageUpdate(EntitlementRefType.Credit, c.CurrencyId, heldCredit.CurrentUsage,
                    null, heldCredit.UsagePeriodEnd, heldCredit.UsageUpdatedAt)) ?? result;
            }
        }

        return result;
    }

    private sealed class Entry(CustomerKey key, CustomerSnapshot snapshot)
    {
        public readonly CustomerKey Key = key;
        public CustomerSnapshot Snapshot = snapshot;
        public int Referenced = 1;
    }
}
