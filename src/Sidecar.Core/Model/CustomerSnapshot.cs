using Stigg.Sidecar.V1;

namespace Sidecar.Core.Model;

/// <summary>
/// Everything known about one (customer, resource) at one moment: immutable, replaced whole (copy-on-write), so a
/// reader holding a reference never sees a half-applied update.
/// </summary>
public sealed class CustomerSnapshot
{
    private readonly Dictionary<string, FeatureEntitlement> _featureIndex;
    private readonly Dictionary<string, CreditGrant> _creditIndex;

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

        _featureIndex = new Dictionary<string, FeatureEntitlement>(features.Count, StringComparer.Ordinal);
        foreach (var f in features)
        {
            _featureIndex[f.FeatureId] = f;
        }

        _creditIndex = new Dictionary<string, CreditGrant>(credits.Count, StringComparer.Ordinal);
        foreach (var c in credits)
        {
            _creditIndex[c.CurrencyId] = c;
        }

        // Stigg keys a customer's entitlements by id, so an id listed twice keeps its last occurrence. The indexes
        // above already do; the lists must say the same, or the list answers would disagree with the typed getters.
        Features = _featureIndex.Count == features.Count ? features : KeepLastOccurrences(features, _featureIndex.Count, static f => f.FeatureId);
        Credits = _creditIndex.Count == credits.Count ? credits : KeepLastOccurrences(credits, _creditIndex.Count, static c => c.CurrencyId);

        EarliestValidUntil = ComputeEarliestValidUntil(Features, Credits);
        ApproxBytes = EstimateBytes(key, Features, Credits);
    }

    public CustomerKey Key { get; }

    /// <summary>Customer-level denial (CustomerNotFound, NoActiveSubscription, CustomerIsArchived), or null.</summary>
    public AccessDeniedReason? CustomerReason { get; }

    /// <summary>
    /// Feature entitlements in the order the upstream returned them, one per feature id (a repeated id keeps only
    /// its last occurrence).
    /// </summary>
    public IReadOnlyList<FeatureEntitlement> Features { get; }

    /// <summary>Credit grants in upstream order, one per currency id (the last occurrence).</summary>
    public IReadOnlyList<CreditGrant> Credits { get; }

    /// <summary>Version of the entitlements list (epoch ms); older writes are dropped (DESIGN decision 2).</summary>
    public long EntitlementsTimestamp { get; }

    /// <summary>When this data was last confirmed by the upstream (epoch ms); drives the freshness window.</summary>
    public long FetchedAt { get; }

    /// <summary>The soonest <c>validUntil</c> of any entitlement, or null; past it the entry must be refetched.</summary>
    public long? EarliestValidUntil { get; }

    /// <summary>Approximate managed footprint, used for the cache byte budget.</summary>
    public long ApproxBytes { get; }

    public bool TryGetFeature(string featureId, out FeatureEntitlement feature) =>
        _featureIndex.TryGetValue(featureId, out feature!);

    public bool TryGetCredit(string currencyId, out CreditGrant credit) =>
        _creditIndex.TryGetValue(currencyId, out credit!);

    /// <summary>True when some entitlement's <c>validUntil</c> has passed (stigg-behaviour §4.1: refetch).</summary>
    public bool IsExpired(long nowMs) => EarliestValidUntil is { } until && until <= nowMs;

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
            if (!_featureIndex.TryGetValue(update.Id, out var current) || update.Timestamp < current.UsageUpdatedAt)
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
            var features = Replace(Features, current, replaced);
            return new CustomerSnapshot(Key, CustomerReason, features, Credits, EntitlementsTimestamp, FetchedAt);
        }

        if (!_creditIndex.TryGetValue(update.Id, out var credit) || update.Timestamp < credit.UsageUpdatedAt)
        {
            return null;
        }

        var newCredit = credit with
        {
            CurrentUsage = update.CurrentUsage,
            UsagePeriodEnd = update.UsagePeriodEnd ?? credit.UsagePeriodEnd,
            UsageUpdatedAt = update.Timestamp,
        };
        var credits = Replace(Credits, credit, newCredit);
        return new CustomerSnapshot(Key, CustomerReason, Features, credits, EntitlementsTimestamp, FetchedAt);
    }

    /// <summary>The items without those whose id occurs again later; only called when some id repeats.</summary>
    private static T[] KeepLastOccurrences<T>(IReadOnlyList<T> items, int distinct, Func<T, string> idOf)
    {
        var seen = new HashSet<string>(distinct, StringComparer.Ordinal);
        var kept = new T[distinct];
        var next = distinct;
        for (var i = items.Count - 1; i >= 0; i--)
        {
            if (seen.Add(idOf(items[i])))
            {
                kept[--next] = items[i];
            }
        }

        return kept;
    }

    private static T[] Replace<T>(IReadOnlyList<T> items, T old, T replacement)
        where T : class
    {
        var copy = new T[items.Count];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = ReferenceEquals(items[i], old) ? replacement : items[i];
        }

        return copy;
    }

    private static long? ComputeEarliestValidUntil(IReadOnlyList<FeatureEntitlement> features, IReadOnlyList<CreditGrant> credits)
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
    private static long EstimateBytes(CustomerKey key, IReadOnlyList<FeatureEntitlement> features, IReadOnlyList<CreditGrant> credits)
    {
        // The snapshot object (112) and its two dictionaries (80 each); Features and Credits are exact-size arrays
        // (the mapper and the FASTER codec both build them so), counted in CollectionBytes.
        const int SnapshotBytes = 112 + (2 * 80) + 16; // + 16: allocation rounding seen in the measurements
        const int FeatureBytes = 232; // the FeatureEntitlement record, with the rounding its optional fields leave
        const int CreditBytes = 136; // the CreditGrant record
        long bytes = SnapshotBytes + StringBytes(key.CustomerId) + StringBytes(key.ResourceId)
            + CollectionBytes(features.Count) + CollectionBytes(credits.Count);
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
    /// A dictionary index of <paramref name="count"/> items (buckets of 4 bytes and entries of 24, at a prime capacity
    /// of up to ~1.3 × count, plus two array headers) and the exact-size array beside it (8 bytes a slot). Nothing for
    /// an empty one: both stay on shared empty arrays.
    /// </summary>
    private static long CollectionBytes(int count) =>
        count == 0 ? 0 : (2 * 24) + (28L * (count + (count / 3) + 3)) + 24 + (8L * count);

    /// <summary>A string: 22 bytes of header, length and terminator plus two bytes a char, rounded up to 8.</summary>
    private static long StringBytes(string? s) => s is null ? 0 : (22 + (2L * s.Length) + 7) & ~7L;
}
