using Stigg.Sidecar.V1;

namespace Sidecar.Core.Model;

/// <summary>
/// Everything known about one (customer, resource) at one moment: immutable, replaced whole (copy-on-write), so a
/// reader holding a reference never sees a half-applied update.
/// </summary>
public sealed class CustomerSnapshot
{
    /// <summary>
    /// Up to this many entitlements of a kind are found by an ordinal scan of the list: as fast as a dictionary probe
    /// at that size, and no dictionary to hold per customer (a million customers in a large file).
    /// </summary>
    public const int MaxScanned = 8;

    private readonly FeatureEntitlement[] _features;
    private readonly CreditGrant[] _credits;

    // Only for longer lists; null otherwise.
    private readonly Dictionary<string, FeatureEntitlement>? _featureIndex;
    private readonly Dictionary<string, CreditGrant>? _creditIndex;

    public CustomerSnapshot(
        CustomerKey key,
        AccessDeniedReason? customerReason,
        IReadOnlyList<FeatureEntitlement> features,
        IReadOnlyList<CreditGrant> credits,
        long entitlementsTimestamp,
        long fetchedAt)
    {
        Key = key;
        CustomerReason = customerReason;
        EntitlementsTimestamp = entitlementsTimestamp;
        FetchedAt = fetchedAt;

        // Stigg keys a customer's entitlements by id, so an id listed twice keeps its last occurrence: in the lists as
        // in the lookups, or the list answers would disagree with the typed getters. The arrays are held as given
        // (the mapper's are exact-size, and may be shared by customers on the same plan: never written to).
        _features = KeepLastOccurrences(features, static f => f.FeatureId);
        _credits = KeepLastOccurrences(credits, static c => c.CurrencyId);
        _featureIndex = _features.Length > MaxScanned ? Index(_features, static f => f.FeatureId) : null;
        _creditIndex = _credits.Length > MaxScanned ? Index(_credits, static c => c.CurrencyId) : null;

        EarliestValidUntil = ComputeEarliestValidUntil(_features, _credits);
        ApproxBytes = EstimateBytes(key, _features, _credits);
    }

    /// <summary>The same entitlements for another customer, sharing this one's lists and indexes (never written to).</summary>
    private CustomerSnapshot(CustomerSnapshot other, CustomerKey key)
    {
        Key = key;
        CustomerReason = other.CustomerReason;
        EntitlementsTimestamp = other.EntitlementsTimestamp;
        FetchedAt = other.FetchedAt;
        _features = other._features;
        _credits = other._credits;
        _featureIndex = other._featureIndex;
        _creditIndex = other._creditIndex;
        EarliestValidUntil = other.EarliestValidUntil;
        ApproxBytes = other.ApproxBytes - KeyBytes(other.Key) + KeyBytes(key);
    }

    public CustomerKey Key { get; }

    /// <summary>Customer-level denial (CustomerNotFound, NoActiveSubscription, CustomerIsArchived), or null.</summary>
    public AccessDeniedReason? CustomerReason { get; }

    /// <summary>
    /// Feature entitlements in the order the upstream returned them, one per feature id (a repeated id keeps only
    /// its last occurrence).
    /// </summary>
    public IReadOnlyList<FeatureEntitlement> Features => _features;

    /// <summary>Credit grants in upstream order, one per currency id (the last occurrence).</summary>
    public IReadOnlyList<CreditGrant> Credits => _credits;

    /// <summary>Version of the entitlements list (epoch ms); older writes are dropped (DESIGN decision 2).</summary>
    public long EntitlementsTimestamp { get; }

    /// <summary>When this data was last confirmed by the upstream (epoch ms); drives the freshness window.</summary>
    public long FetchedAt { get; }

    /// <summary>The soonest <c>validUntil</c> of any entitlement, or null; past it the entry must be refetched.</summary>
    public long? EarliestValidUntil { get; }

    /// <summary>Approximate managed footprint, used for the cache byte budget.</summary>
    public long ApproxBytes { get; }

    public bool TryGetFeature(string featureId, out FeatureEntitlement feature)
    {
        if (_featureIndex is { } index)
        {
            return index.TryGetValue(featureId, out feature!);
        }

        foreach (var f in _features)
        {
            if (string.Equals(f.FeatureId, featureId, StringComparison.Ordinal))
            {
                feature = f;
                return true;
            }
        }

        feature = null!;
        return false;
    }

    public bool TryGetCredit(string currencyId, out CreditGrant credit)
    {
        if (_creditIndex is { } index)
        {
            return index.TryGetValue(currencyId, out credit!);
        }

        foreach (var c in _credits)
        {
            if (string.Equals(c.CurrencyId, currencyId, StringComparison.Ordinal))
            {
                credit = c;
                return true;
            }
        }

        credit = null!;
        return false;
    }

    /// <summary>True when some entitlement's <c>validUntil</c> has passed (stigg-behaviour §4.1: refetch).</summary>
    public bool IsExpired(long nowMs) => EarliestValidUntil is { } until && until <= nowMs;

    /// <summary>
    /// This snapshot's entitlements, timestamps and reason for another customer: what mapping the same state for that
    /// customer gives, without mapping it again (customers of one file load with identical states).
    /// </summary>
    public CustomerSnapshot ForCustomer(CustomerKey key) => new(this, key);

    public CustomerSnapshot WithFetchedAt(long fetchedAt) =>
        new(Key, CustomerReason, Features, Credits, EntitlementsTimestamp, fetchedAt);

    /// <summary>
    /// Applies an absolute usage value. Returns null when there is nothing to apply: no such entitlement, or the
    /// update is older than the usage already held (timestamp guard).
    /// </summary>
    public CustomerSnapshot? WithUsage(UsageUpdate update)
    {
        if (update.Type == EntitlementRefType.Feature)
        {
            if (!TryGetFeature(update.Id, out var current) || update.Timestamp < current.UsageUpdatedAt)
            {
                return null;
            }

            var replaced = current with
            {
                CurrentUsage = update.CurrentUsage,
                UsagePeriodStart = update.UsagePeriodStart ?? current.UsagePeriodStart,
                UsagePeriodEnd = update.UsagePeriodEnd ?? current.UsagePeriodEnd,
                UsageUpdatedAt = update.Timestamp,
            };
            var features = Replace(_features, current, replaced);
            return new CustomerSnapshot(Key, CustomerReason, features, Credits, EntitlementsTimestamp, FetchedAt);
        }

        if (!TryGetCredit(update.Id, out var credit) || update.Timestamp < credit.UsageUpdatedAt)
        {
            return null;
        }

        var newCredit = credit with
        {
            CurrentUsage = update.CurrentUsage,
            UsagePeriodEnd = update.UsagePeriodEnd ?? credit.UsagePeriodEnd,
            UsageUpdatedAt = update.Timestamp,
        };
        var credits = Replace(_credits, credit, newCredit);
        return new CustomerSnapshot(Key, CustomerReason, Features, credits, EntitlementsTimestamp, FetchedAt);
    }

    /// <summary>
    /// The items as an array without those whose id occurs again later: <paramref name="items"/> itself when it is an
    /// array with no repeated id (the common case, checked without allocating for short lists).
    /// </summary>
    private static T[] KeepLastOccurrences<T>(IReadOnlyList<T> items, Func<T, string> idOf)
    {
        var count = items.Count;
        if (count == 0)
        {
            return [];
        }

        HashSet<string>? seen = null;
        var repeated = false;
        if (count <= MaxScanned)
        {
            for (var i = 1; i < count && !repeated; i++)
            {
                var id = idOf(items[i]);
                for (var j = 0; j < i; j++)
                {
                    if (string.Equals(idOf(items[j]), id, StringComparison.Ordinal))
                    {
                        repeated = true;
                        break;
                    }
                }
            }
        }
        else
        {
            seen = new HashSet<string>(count, StringComparer.Ordinal);
            foreach (var item in items)
            {
                repeated |= !seen.Add(idOf(item));
            }
        }

        if (!repeated)
        {
            return items as T[] ?? [.. items];
        }

        seen ??= new HashSet<string>(count, StringComparer.Ordinal);
        seen.Clear();
        var kept = new List<T>(count);
        for (var i = count - 1; i >= 0; i--)
        {
            if (seen.Add(idOf(items[i])))
            {
                kept.Add(items[i]);
            }
        }

        kept.Reverse();
        return [.. kept];
    }

    private static Dictionary<string, T> Index<T>(T[] items, Func<T, string> idOf)
    {
        var index = new Dictionary<string, T>(items.Length, StringComparer.Ordinal);
        foreach (var item in items)
        {
            index.Add(idOf(item), item);
        }

        return index;
    }

    private static T[] Replace<T>(T[] items, T old, T replacement)
        where T : class
    {
        var copy = new T[items.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = ReferenceEquals(items[i], old) ? replacement : items[i];
        }

        return copy;
    }

    private static long? ComputeEarliestValidUntil(FeatureEntitlement[] features, CreditGrant[] credits)
    {
        long? min = null;
        foreach (var f in features)
        {
            if (f.ValidUntil is { } v && (min is null || v < min))
            {
                min = v;
            }
        }

        foreach (var c in credits)
        {
            if (c.ValidUntil is { } v && (min is null || v < min))
            {
                min = v;
            }
        }

        return min;
    }

    /// <summary>
    /// The managed heap this snapshot keeps alive when it holds its own strings (as every snapshot parsed from the
    /// Edge or decoded from FASTER does), on 64-bit .NET: object sizes taken from a heap dump and calibrated against
    /// the retained-heap delta of thousands of snapshots (GC.GetTotalMemory(true) before and after; Sidecar.Cache.Tests
    /// SnapshotFootprintTests keeps it within [measured, 1.15 × measured] for the sample and the benchmark shapes).
    /// Lists and dictionaries are counted at the capacities the mapper and the codec give them, rounded up a little.
    /// </summary>
    private static long EstimateBytes(CustomerKey key, FeatureEntitlement[] features, CreditGrant[] credits)
    {
        // The snapshot object (112); Features and Credits are exact-size arrays (the mapper and the FASTER codec both
        // build them so), counted in CollectionBytes with the index of a long list.
        // + 24: allocation rounding seen in the measurements; + 16: a margin, since a snapshot decoded from FASTER
        // measured 2–3 bytes over the estimate on some runs and the budget must never count less than the heap holds.
        const int SnapshotBytes = 112 + 24 + 16;
        const int FeatureBytes = 232; // the FeatureEntitlement record, with the rounding its optional fields leave
        const int CreditBytes = 136; // the CreditGrant record
        long bytes = SnapshotBytes + KeyBytes(key) + CollectionBytes(features.Length) + CollectionBytes(credits.Length);
        foreach (var f in features)
        {
            bytes += FeatureBytes + StringBytes(f.FeatureId) + StringBytes(f.DisplayName) + StringBytes(f.Units)
                + StringBytes(f.UnitsPlural) + StringBytes(f.CreditCurrencyId);
            if (f.EnumValues.Count > 0)
            {
                bytes += 24 + (8L * f.EnumValues.Count);
                foreach (var v in f.EnumValues)
                {
                    bytes += StringBytes(v);
                }
            }
        }

        foreach (var c in credits)
        {
            bytes += CreditBytes + StringBytes(c.CurrencyId) + StringBytes(c.DisplayName) + StringBytes(c.Description)
                + StringBytes(c.UnitSingular) + StringBytes(c.UnitPlural);
        }

        return bytes;
    }

    /// <summary>
    /// The exact-size array of <paramref name="count"/> items (8 bytes a slot) and, past <see cref="MaxScanned"/>, its
    /// dictionary index (the object, buckets of 4 bytes and entries of 24 at a prime capacity of up to ~1.3 × count,
    /// plus two array headers). Nothing for an empty one: it stays on the shared empty array.
    /// </summary>
    private static long CollectionBytes(int count) =>
        count == 0 ? 0
        : count <= MaxScanned ? 24 + (8L * count)
        : 80 + (2 * 24) + (28L * (count + (count / 3) + 3)) + 24 + (8L * count);

    private static long KeyBytes(CustomerKey key) => StringBytes(key.CustomerId) + StringBytes(key.ResourceId);

    /// <summary>A string: 22 bytes of header, length and terminator plus two bytes a char, rounded up to 8.</summary>
    private static long StringBytes(string? s) => s is null ? 0 : (22 + (2L * s.Length) + 7) & ~7L;
}
