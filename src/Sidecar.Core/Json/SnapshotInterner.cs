using Sidecar.Core.Model;

namespace Sidecar.Core.Json;

/// <summary>
/// Shares equal values between the snapshots mapped in one pass over many customers (a load of the entitlements file):
/// feature ids, display names, units, currency ids and enum values repeat across customers on the same plans, and so
/// do whole entitlements (a plan's boolean and limit features, identical for all its customers). Each parsed copy
/// would otherwise be held once per customer. Sharing is safe because entitlements are immutable records: a usage
/// change makes a new one for that customer alone. Customer and resource ids are never passed through it (they are
/// unique). Not thread-safe: one instance per load (or per thread of one), dropped after it.
/// </summary>
public sealed class SnapshotInterner
{
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _spans;
    private readonly Dictionary<string[], string[]> _lists = new(StringListComparer.Instance);
    private readonly Dictionary<FeatureEntitlement, FeatureEntitlement> _features = [];
    private readonly Dictionary<CreditGrant, CreditGrant> _credits = [];
    private readonly Dictionary<FeatureEntitlement[], FeatureEntitlement[]> _featureLists = new(SameItems<FeatureEntitlement>.Instance);
    private readonly Dictionary<CreditGrant[], CreditGrant[]> _creditLists = new(SameItems<CreditGrant>.Instance);

    /// <summary>
    /// Distinct entitlements remembered per load: enough for every plan's shared ones, while entitlements unique to
    /// one customer (its own usage) cannot grow the table without bound during a load of millions.
    /// </summary>
    public const int MaxDistinctEntitlements = 1 << 16;

    public SnapshotInterner()
    {
        _spans = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The string equal to <paramref name="value"/> seen first, allocated only the first time.</summary>
    public string Intern(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            return string.Empty;
        }

        if (_spans.TryGetValue(value, out var shared))
        {
            return shared;
        }

        var created = value.ToString();
        _strings.Add(created, created);
        return created;
    }

    /// <summary>The first string seen equal to <paramref name="value"/> (itself when it is new).</summary>
    public string? Intern(string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (value.Length == 0)
        {
            return string.Empty;
        }

        if (_strings.TryGetValue(value, out var shared))
        {
            return shared;
        }

        _strings.Add(value, value);
        return value;
    }

    /// <summary>The first list seen with the same values in the same order, its strings shared too.</summary>
    public string[] Intern(List<string> values)
    {
        var candidate = new string[values.Count];
        for (var i = 0; i < candidate.Length; i++)
        {
            // A null element reads through as null, as the unshared mapping keeps it.
            candidate[i] = Intern(values[i])!;
        }

        if (_lists.TryGetValue(candidate, out var shared))
        {
            return shared;
        }

        _lists.Add(candidate, candidate);
        return candidate;
    }

    /// <summary>The first feature entitlement seen equal to <paramref name="feature"/> in every field.</summary>
    public FeatureEntitlement Intern(FeatureEntitlement feature)
    {
        // Record equality holds 0 and -0 equal; a negative zero is kept as parsed rather than merged into a zero.
        if (IsNegativeZero(feature.UsageLimit) || IsNegativeZero(feature.CurrentUsage) || IsNegativeZero(feature.CreditRateAmount))
        {
            return feature;
        }

        if (_features.TryGetValue(feature, out var shared))
        {
            return shared;
        }

        if (_features.Count < MaxDistinctEntitlements)
        {
            _features.Add(feature, feature);
        }

        return feature;
    }

    /// <summary>The first credit grant seen equal to <paramref name="credit"/> in every field.</summary>
    public CreditGrant Intern(CreditGrant credit)
    {
        if (IsNegativeZero(credit.UsageLimit) || IsNegativeZero(credit.CurrentUsage))
        {
            return credit;
        }

        if (_credits.TryGetValue(credit, out var shared))
        {
            return shared;
        }

        if (_credits.Count < MaxDistinctEntitlements)
        {
            _credits.Add(credit, credit);
        }

        return credit;
    }

    /// <summary>
    /// The first list seen holding the same (shared) entitlements in the same order: customers on one plan then hold
    /// one array between them. Call it with entitlements already passed through <see cref="Intern(FeatureEntitlement)"/>.
    /// </summary>
    public FeatureEntitlement[] Intern(FeatureEntitlement[] features) => InternList(_featureLists, features);

    /// <summary>As <see cref="Intern(FeatureEntitlement[])"/>, for credit grants.</summary>
    public CreditGrant[] Intern(CreditGrant[] credits) => InternList(_creditLists, credits);

    private static T[] InternList<T>(Dictionary<T[], T[]> lists, T[] items)
        where T : class
    {
        if (items.Length == 0)
        {
            return items;
        }

        if (lists.TryGetValue(items, out var shared))
        {
            return shared;
        }

        if (lists.Count < MaxDistinctEntitlements)
        {
            lists.Add(items, items);
        }

        return items;
    }

    private static bool IsNegativeZero(double? value) => value is { } v && v == 0 && double.IsNegative(v);

    /// <summary>Lists of the same instances in the same order (the items are shared ones, so identity is equality).</summary>
    private sealed class SameItems<T> : IEqualityComparer<T[]>
        where T : class
    {
        public static readonly SameItems<T> Instance = new();

        public bool Equals(T[]? x, T[]? y)
        {
            if (ReferenceEquals(x, y))
            {
                return true;
            }

            if (x is null || y is null || x.Length != y.Length)
            {
                return false;
            }

            for (var i = 0; i < x.Length; i++)
            {
                if (!ReferenceEquals(x[i], y[i]))
                {
                    return false;
                }
            }

            return true;
        }

        public int GetHashCode(T[] obj)
        {
            var hash = new HashCode();
            foreach (var item in obj)
            {
                hash.Add(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(item));
            }

            return hash.ToHashCode();
        }
    }

    private sealed class StringListComparer : IEqualityComparer<string[]>
    {
        public static readonly StringListComparer Instance = new();

        public bool Equals(string[]? x, string[]? y) =>
            ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

        public int GetHashCode(string[] obj)
        {
            var hash = new HashCode();
            foreach (var s in obj)
            {
                hash.Add(s is null ? 0 : StringComparer.Ordinal.GetHashCode(s));
            }

            return hash.ToHashCode();
        }
    }
}
