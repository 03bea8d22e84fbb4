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
    /// <summary>
    /// Heap one held customer costs beside its snapshot: the entry, the dictionary node and the clock queue cell
    /// (measured at ~158 bytes a customer over thousands; Sidecar.Cache.Tests SnapshotFootprintTests checks it).
    /// </summary>
    public const int SlotBytes = 168;

    /// <summary>Held by every tier not written to yet, and never written to itself: see <see cref="Writable"/>.</summary>
    private static readonly ConcurrentDictionary<CustomerKey, Entry> NothingWritten = new();

    // Created on the first write, at the size Reserve asks for when it comes first; never replaced after.
    private ConcurrentDictionary<CustomerKey, Entry> _entries = NothingWritten;
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

    /// <summary>Accounted bytes of the customers held now: their snapshots and their slots.</summary>
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
    /// emptied list, always wins). Usage the held snapshot knows more recently than the incoming one (a usage event
    /// that overtook a fetch) is kept. Returns what is held afterwards.
    /// </summary>
    public CustomerSnapshot Set(CustomerSnapshot incoming)
    {
        while (true)
        {
            if (!_entries.TryGetValue(incoming.Key, out var entry))
            {
                var created = new Entry(incoming.Key, incoming);
                if (!Writable().TryAdd(incoming.Key, created))
                {
                    continue;
                }

                lock (created)
                {
                    if (!created.Removed)
                    {
                        Account(created, incoming);
                    }
                }

                _clock.Enqueue(created);
                EvictIfOverBudget();
                return incoming;
            }

            CustomerSnapshot stored;
            lock (entry)
            {
                if (entry.Removed)
                {
                    continue; // lost a race with a removal: start over against the dictionary
                }

                var held = entry.Snapshot;

                // Epoch 0 marks an emptied list (customer deleted, subscription gone): it always wins, as in Stigg's guard.
                if (incoming.EntitlementsTimestamp != 0 && held.EntitlementsTimestamp > incoming.EntitlementsTimestamp)
                {
                    // Stale entitlements; still take the confirmation time so the freshness window restarts.
                    stored = incoming.FetchedAt > held.FetchedAt ? held.WithFetchedAt(incoming.FetchedAt) : held;
                }
                else
                {
                    stored = KeepNewerUsage(incoming, held);
                }

                Account(entry, stored);
            }

            EvictIfOverBudget();
            return stored;
        }
    }

    /// <summary>
    /// Sizes the tier for <paramref name="count"/> customers when nothing was written to it yet (a file load): growing
    /// a million entries step by step copies every entry at each step. Otherwise it does nothing.
    /// </summary>
    public void Reserve(int count) => Writable(count);

    /// <summary>Applies an absolute usage value to a held customer; null when not held or the update is stale.</summary>
    public CustomerSnapshot? ApplyUsage(CustomerKey key, UsageUpdate update)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            return null;
        }

        CustomerSnapshot? updated;
        lock (entry)
        {
            updated = entry.Removed ? null : entry.Snapshot.WithUsage(update);
            if (updated is not null)
            {
                Account(entry, updated);
            }
        }

        EvictIfOverBudget();
        return updated;
    }

    public bool Remove(CustomerKey key)
    {
        if (_entries.TryRemove(key, out var entry))
        {
            Release(entry);
            return true;
        }

        return false;
    }

    /// <summary>The dictionary writes go to: created by the first writer, at <paramref name="capacity"/> if given.</summary>
    private ConcurrentDictionary<CustomerKey, Entry> Writable(int capacity = 0)
    {
        var entries = Volatile.Read(ref _entries);
        if (!ReferenceEquals(entries, NothingWritten))
        {
            return entries;
        }

        var created = capacity > 0
            ? new ConcurrentDictionary<CustomerKey, Entry>(Environment.ProcessorCount, capacity)
            : new ConcurrentDictionary<CustomerKey, Entry>();
        return Interlocked.CompareExchange(ref _entries, created, NothingWritten) is var won && ReferenceEquals(won, NothingWritten) ? created : won;
    }

    /// <summary>Publishes <paramref name="snapshot"/> in <paramref name="entry"/> and moves the byte total by the size change. Caller holds the entry's lock.</summary>
    private void Account(Entry entry, CustomerSnapshot snapshot)
    {
        Volatile.Write(ref entry.Snapshot, snapshot);
        Interlocked.Add(ref _bytes, snapshot.ApproxBytes + SlotBytes - entry.AccountedBytes);
        entry.AccountedBytes = snapshot.ApproxBytes + SlotBytes;
    }

    /// <summary>Takes a removed entry's bytes off the total; later writers see it removed and start over.</summary>
    private void Release(Entry entry)
    {
        lock (entry)
        {
            entry.Removed = true;
            Interlocked.Add(ref _bytes, -entry.AccountedBytes);
            entry.AccountedBytes = 0;
        }
    }

    private void EvictIfOverBudget()
    {
        // One evictor at a time; other writers go on (the budget is a soft bound for the length of one sweep).
        if (Interlocked.Read(ref _bytes) <= BudgetBytes || !_evictionLock.TryEnter())
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
                    Release(entry);
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

    /// <summary>
    /// One customer's slot. Readers only read <see cref="Snapshot"/>; writers change it under the entry's lock, which
    /// keeps the byte accounting exact against concurrent removal.
    /// </summary>
    private sealed class Entry(CustomerKey key, CustomerSnapshot snapshot)
    {
        public readonly CustomerKey Key = key;
        public CustomerSnapshot Snapshot = snapshot;
        public long AccountedBytes;
        public bool Removed;

        // Starts clear: a new entry sits at the tail of the clock, so older unread entries go first anyway.
        public int Referenced;
    }
}
