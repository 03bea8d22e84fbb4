using Sidecar.Core.Model;

namespace Sidecar.Cache.Redis.Internal;

/// <summary>
/// Stigg's Redis key names (stigg-behaviour §7.2), byte for byte. <c>P</c> is the environment prefix and <c>C</c> is
/// <c>c_{customerId}</c> or <c>c_{customerId}:r_{resourceId}</c>. Ids are not escaped, as in Stigg.
/// </summary>
internal readonly struct RedisKeyspace(string prefix)
{
    public const string TimestampSuffix = "#timestamp";
    private const string RefetchName = "refetchEntityEntitlementsAfterCacheMiss";

    public string Prefix { get; } = prefix;

    /// <summary><c>P:C</c>: the entitlements map.</summary>
    public string Entitlements(CustomerKey key) => $"{Prefix}:{key}";

    /// <summary><c>P:C:metadata</c>: the customer-level access-denied reason.</summary>
    public string Metadata(CustomerKey key) => $"{Prefix}:{key}:metadata";

    /// <summary><c>P:C:f_{featureId}</c>.</summary>
    public string FeatureUsage(CustomerKey key, string featureId) => $"{Prefix}:{key}:f_{featureId}";

    /// <summary><c>P:C:credit_{currencyId}</c>.</summary>
    public string CreditUsage(CustomerKey key, string currencyId) => $"{Prefix}:{key}:credit_{currencyId}";

    public string Usage(CustomerKey key, EntitlementRefType type, string id) =>
        type == EntitlementRefType.Credit ? CreditUsage(key, id) : FeatureUsage(key, id);

    /// <summary><c>P:c_{customerId}#timestamp</c>: the customer-level version a resource entry is compared with.</summary>
    public string GlobalTimestamp(CustomerKey key) => Timestamp(Entitlements(key.Global));

    /// <summary>The setCustomer lock, <c>P-{customerId}[:{resourceId}]</c> (a hyphen, kept by Stigg for compatibility).</summary>
    public string WriteLock(CustomerKey key) =>
        key.ResourceId is null ? $"{Prefix}-{key.CustomerId}" : $"{Prefix}-{key.CustomerId}:{key.ResourceId}";

    /// <summary>The distributed refetch lock, <c>P:refetchEntityEntitlementsAfterCacheMiss-{customerId}[:{resourceId}]</c>.</summary>
    public string RefetchLock(CustomerKey key) => $"{Prefix}:{RefetchName}-{Entity(key)}";

    /// <summary>The refetch notification channel, <c>P:refetchEntityEntitlementsAfterCacheMiss:{customerId}[:{resourceId}]</c>.</summary>
    public string RefetchChannel(CustomerKey key) => $"{Prefix}:{RefetchName}:{Entity(key)}";

    public static string Timestamp(string key) => key + TimestampSuffix;

    private static string Entity(CustomerKey key) =>
        key.ResourceId is null ? key.CustomerId : $"{key.CustomerId}:{key.ResourceId}";
}
