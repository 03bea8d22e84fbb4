using Sidecar.Core.Model;
using StackExchange.Redis;

namespace Sidecar.Cache.Redis.Internal;

/// <summary>
/// The timestamp-guarded batch write of Stigg's layout (§7.5 <c>updateCacheItems</c>): which keys a snapshot or a
/// usage update becomes, and writing them so that no item replaces a newer one.
/// </summary>
internal sealed class RedisSnapshotWriter(RedisConnection connection)
{
    // Stigg checks the stored timestamps and then writes; we make that check-and-set atomic with WATCH and redo it
    // when a concurrent writer (e.g. persistent-cache-service, which does not take our lock) got in between.
    private const int OptimisticAttempts = 3;

    /// <summary>The entitlements map, the metadata and one usage key per metered feature / credit.</summary>
    public WriteItem[] SnapshotItems(CustomerSnapshot snapshot)
    {
        var keys = connection.Keys;
        var key = snapshot.Key;
        var items = new List<WriteItem>(2 + snapshot.Features.Count + snapshot.Credits.Count)
        {
            new(keys.Entitlements(key), StiggCacheFormat.WriteEntitlements(snapshot), snapshot.EntitlementsTimestamp),
            new(keys.Metadata(key), StiggCacheFormat.WriteMetadata(snapshot.CustomerReason), snapshot.EntitlementsTimestamp),
        };

        foreach (var f in snapshot.Features)
        {
            if (f.IsMetered)
            {
                items.Add(new WriteItem(
                    keys.FeatureUsage(key, f.FeatureId),
                    StiggCacheFormat.WriteUsage(f.CurrentUsage, f.UsagePeriodStart, f.UsagePeriodEnd),
                    StiggCacheFormat.UsageTimestamp(f.UsageUpdatedAt, snapshot.FetchedAt)));
            }
        }

        foreach (var c in snapshot.Credits)
        {
            items.Add(new WriteItem(
                keys.CreditUsage(key, c.CurrencyId),
                StiggCacheFormat.WriteUsage(c.CurrentUsage, null, c.UsagePeriodEnd),
                StiggCacheFormat.UsageTimestamp(c.UsageUpdatedAt, snapshot.FetchedAt)));
        }

        return [.. items];
    }

    /// <summary>The single usage key of <paramref name="update"/>.</summary>
    public WriteItem UsageItem(CustomerKey key, UsageUpdate update) =>
        new(
            connection.Keys.Usage(key, update.Type, update.Id),
            StiggCacheFormat.WriteUsage(update.CurrentUsage, update.UsagePeriodStart, update.UsagePeriodEnd),
            update.Timestamp);

    /// <summary>
    /// Writes every item whose stored <c>#timestamp</c> is not newer (epoch 0 always wins), in one MULTI/EXEC
    /// conditioned on the timestamps read. With <paramref name="requiredKey"/>, nothing is written unless that key
    /// exists (updateUsage's "customer is stored" rule), checked atomically with the write.
    /// </summary>
    /// <returns>True when something was written.</returns>
    public async Task<bool> WriteAsync(CustomerKey key, WriteItem[] items, string? requiredKey)
    {
        var database = connection.Database;
        var expiry = connection.Options.KeysTtl;
        var timestampKeys = new RedisKey[items.Length + (requiredKey is null ? 0 : 1)];
        for (var i = 0; i < items.Length; i++)
        {
            timestampKeys[i] = RedisKeyspace.Timestamp(items[i].Key);
        }

        if (requiredKey is not null)
        {
            timestampKeys[^1] = requiredKey;
        }

        for (var attempt = 0; attempt < OptimisticAttempts; attempt++)
        {
            var stored = await database.StringGetAsync(timestampKeys).ConfigureAwait(false);
            if (requiredKey is not null && stored[^1].IsNull)
            {
                Log.UsageSkippedCustomerAbsent(connection.Logger, key);
                return false;
            }

            var tx = database.CreateTransaction();
            if (requiredKey is not null)
            {
                tx.AddCondition(Condition.KeyExists(requiredKey));
            }

            var writes = 0;
            for (var i = 0; i < items.Length; i++)
            {
                var item = items[i];
                if (StiggCacheFormat.ParseTimestamp(stored[i]) is { } storedTs && item.MessageTimestamp != 0 && storedTs > item.MessageTimestamp)
                {
                    Log.WriteSkippedOlder(connection.Logger, item.Key, storedTs, item.MessageTimestamp);
                    continue;
                }

                tx.AddCondition(stored[i].IsNull
                    ? Condition.KeyNotExists(timestampKeys[i])
                    : Condition.StringEqual(timestampKeys[i], stored[i]));
                _ = tx.StringSetAsync(item.Key, item.Value, expiry, When.Always);
                _ = tx.StringSetAsync(timestampKeys[i], StiggCacheFormat.FormatTimestamp(item.MessageTimestamp), expiry, When.Always);
                writes++;
            }

            if (writes == 0)
            {
                return false;
            }

            if (await tx.ExecuteAsync().ConfigureAwait(false))
            {
                return true;
            }
        }

        Log.WriteConflict(connection.Logger, key, "concurrent writers won every optimistic retry");
        return false;
    }
}

/// <summary>One value of the layout, guarded by its <c>#timestamp</c> sibling.</summary>
internal readonly record struct WriteItem(string Key, RedisValue Value, long MessageTimestamp);
