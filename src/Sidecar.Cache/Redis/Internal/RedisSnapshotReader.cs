using System.Text.Json;
using Sidecar.Core.Model;
using StackExchange.Redis;

namespace Sidecar.Cache.Redis.Internal;

/// <summary>
/// Reads one whole customer entry from Stigg's layout (stigg-behaviour §7.4): the entitlements map, the metadata and
/// their timestamps in one MGET, then every usage key and its <c>#timestamp</c> in a second one, merged into a
/// snapshot. Any torn, stale or undecodable part makes the whole entry a miss.
/// </summary>
internal sealed class RedisSnapshotReader(RedisConnection connection)
{
    private delegate T ReadOnlySpanFunc<out T>(ReadOnlySpan<byte> value);

    /// <summary>The stored snapshot, or null on a miss. Redis errors propagate (the tier bounds and logs them).</summary>
    public async Task<CustomerSnapshot?> ReadAsync(CustomerKey key)
    {
        var keyspace = connection.Keys;
        var entitlementsKey = keyspace.Entitlements(key);
        var metadataKey = keyspace.Metadata(key);
        RedisKey[] keys = key.ResourceId is null
            ? [entitlementsKey, metadataKey, RedisKeyspace.Timestamp(entitlementsKey)]
            : [entitlementsKey, metadataKey, RedisKeyspace.Timestamp(entitlementsKey), keyspace.GlobalTimestamp(key)];
        var values = await connection.Database.StringGetAsync(keys).ConfigureAwait(false);

        // A missing or empty value is a miss ("{}" is a hit with no entitlements); so is a value without its
        // timestamp (a torn pair).
        if (values[0].IsNullOrEmpty || StiggCacheFormat.ParseTimestamp(values[2]) is not { } version)
        {
            return null;
        }

        var now = connection.Time.GetUtcNow().ToUnixTimeMilliseconds();
        if (!TryParse(entitlementsKey, values[0], v => StiggCacheFormat.ParseEntitlements(v, now), out var entries)
            || !TryParse(metadataKey, values[1], v => StiggCacheFormat.ParseMetadata(v), out var reason))
        {
            return null;
        }

        if (key.ResourceId is not null && IsGlobalCustomerMissing(entries.Count, version, StiggCacheFormat.ParseTimestamp(values[3])))
        {
            return null;
        }

        var tracked = 0;
        foreach (var entry in entries)
        {
            tracked += entry.IsUsageTracked ? 1 : 0;
        }

        RedisValue[] usageValues = [];
        if (tracked > 0)
        {
            var usageKeys = new RedisKey[tracked * 2];
            var i = 0;
            foreach (var entry in entries)
            {
                if (entry.IsUsageTracked)
                {
                    var usageKey = keyspace.Usage(key, entry.Type, entry.Id);
                    usageKeys[i++] = usageKey;
                    usageKeys[i++] = RedisKeyspace.Timestamp(usageKey);
                }
            }

            usageValues = await connection.Database.StringGetAsync(usageKeys).ConfigureAwait(false);
        }

        var features = new List<FeatureEntitlement>(entries.Count);
        var credits = new List<CreditGrant>();
        var next = 0;
        foreach (var entry in entries)
        {
            UsageDataJson? usage = null;
            long? usageTimestamp = null;
            if (entry.IsUsageTracked)
            {
                var value = usageValues[next];
                usageTimestamp = StiggCacheFormat.ParseTimestamp(usageValues[next + 1]);
                next += 2;
                var usageKey = keyspace.Usage(key, entry.Type, entry.Id);
                if (value.IsNullOrEmpty || usageTimestamp is null)
                {
                    if (connection.DataLogs.TryEnter(out _))
                    {
                        Log.UsageMissing(connection.Logger, usageKey, value.IsNullOrEmpty ? "the usage value is missing" : "its timestamp is missing");
                    }

                    return null;
                }

                if (!TryParse(usageKey, value, StiggCacheFormat.ParseUsage, out usage))
                {
                    return null;
                }
            }

            if (entry.Type == EntitlementRefType.Credit)
            {
                credits.Add(StiggCacheFormat.ToCredit(entry, usage, usageTimestamp, version));
            }
            else
            {
                features.Add(StiggCacheFormat.ToFeature(entry, usage, usageTimestamp, version));
            }
        }

        return new CustomerSnapshot(key, reason, features, credits, version, now);
    }

    /// <summary>
    /// Stigg's <c>globalCustomerMissing</c> for a resource entry (§7.4, §4.7): stale when it has no entitlements
    /// and the customer-level entry is absent, or when it has entitlements that are not at least as new as the
    /// customer-level entry.
    /// </summary>
    private static bool IsGlobalCustomerMissing(int entitlementCount, long resourceTimestamp, long? globalTimestamp) =>
        entitlementCount == 0
            ? globalTimestamp is null
            : !(globalTimestamp is { } global && resourceTimestamp >= global);

    private bool TryParse<T>(string redisKey, RedisValue value, ReadOnlySpanFunc<T> parse, out T result)
    {
        if (value.IsNullOrEmpty)
        {
            result = default!;
            return true;
        }

        try
        {
            result = parse(((ReadOnlyMemory<byte>)value).Span);
            return true;
        }
        catch (JsonException ex)
        {
            if (connection.DataLogs.TryEnter(out _))
            {
                Log.CorruptValue(connection.Logger, redisKey, ex.Message);
            }

            result = default!;
            return false;
        }
    }
}
