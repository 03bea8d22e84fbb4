namespace Sidecar.Cache;

/// <summary>How the read-through cache treats what it holds.</summary>
public sealed record TieredCacheOptions
{
    /// <summary>
    /// While no event stream keeps entries current, an entry older than this is still answered and revalidated in
    /// the background (stale-while-revalidate; CACHE_FRESHNESS_SECS).
    /// </summary>
    public required TimeSpan FreshnessWindow { get; init; }

    /// <summary>
    /// How long a check waits for a miss when its caller set no gRPC deadline (ENTITLEMENTS_MISS_BUDGET_MS); past it the
    /// check answers the fallback and the fetch goes on in the background.
    /// </summary>
    public TimeSpan MissBudget { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Stigg's exact behaviour without events: every check refetches (CACHE_REFETCH_ON_EVERY_CHECK).</summary>
    public bool RefetchOnEveryCheck { get; init; }
}
