using Sidecar.Cache.Redis.Internal;
using Sidecar.Core.Model;
using StackExchange.Redis;

namespace Sidecar.Cache.Redis;

/// <summary>
/// The shared persistent tier, in the exact key layout and JSON of Stigg's <c>@stigg/cache-redis-store</c>
/// (stigg-behaviour §7), so this sidecar, Stigg's own SDKs/sidecars and Stigg's persistent-cache-service can share one
/// Redis.
/// </summary>
/// <remarks>
/// <para>Availability: every operation is bounded by <see cref="RedisTierOptions.OperationTimeout"/>; a Redis error or
/// timeout is logged (rate-limited) and answered as a miss (reads) or a no-op (writes), as Stigg's "safe" wrapper
/// does (§7.5).</para>
/// <para>Versions: <see cref="CustomerSnapshot.EntitlementsTimestamp"/> is the <c>P:C#timestamp</c> value, and each
/// usage record's <c>UsageUpdatedAt</c> is its usage key's <c>#timestamp</c>; the per-entitlement
/// <c>entitlementUpdatedAt</c> is not part of Stigg's layout, so it reads back as the entitlements timestamp.</para>
/// <para><see cref="CustomerSnapshot.FetchedAt"/> of a snapshot read from Redis is the time of the read. In Stigg's
/// model Redis is authoritative and kept current by its writers (persistent-cache-service, the other sidecars'
/// refetches), so data found there counts as confirmed now; the layout has no fetch-time key, and using the
/// entitlements timestamp instead would make every entry that has not changed for a while look stale at once.</para>
/// <para>Reads always take the whole customer (Stigg can read one entitlement): if any metered feature or credit lacks
/// its usage key or usage <c>#timestamp</c>, the whole entry is a miss (Stigg's rule applied to every entitlement).</para>
/// <para>The tier does not own its <see cref="RedisConnection"/>: disposing the tier leaves the connection open.</para>
/// </remarks>
public sealed class RedisTier : ISnapshotTier
{
    // redlock's defaults, which Stigg's setCustomer lock uses when the first attempt finds the lock taken.
    private const int LockRetryCount = 10;
    private const int LockRetryDelayMs = 200;
    private const int LockRetryJitterMs = 200;

    private readonly RedisConnection _connection;
    private readonly RedisSnapshotReader _reader;
    private readonly RedisSnapshotWriter _writer;

    public RedisTier(RedisConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
        _reader = new RedisSnapshotReader(connection);
        _writer = new RedisSnapshotWriter(connection);
    }

    public string Name => "redis";

    /// <summary>True while at least one connection to Redis is up.</summary>
    public bool IsConnected => _connection.IsConnected;

    private RedisKeyspace Keys => _connection.Keys;

    private TimeSpan OperationTimeout => _connection.Options.OperationTimeout;

    /// <inheritdoc/>
    public async ValueTask<CustomerSnapshot?> ReadAsync(CustomerKey key, CancellationToken cancellationToken) =>
        await _connection.RunAsync("read", key, () => _reader.ReadAsync(key), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Stigg's <c>setCustomer</c> (§7.5): under the <c>P-{customer}[:{resource}]</c> lock, writes the entitlements
    /// map, the metadata and one usage key per metered feature / credit, each with its <c>#timestamp</c>, skipping
    /// every item whose stored timestamp is newer (epoch 0 always wins), all in one MULTI/EXEC.
    /// </summary>
    public async ValueTask WriteAsync(CustomerSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var key = snapshot.Key;
        if (!_connection.CheckConnected("write", key))
        {
            return;
        }

        var items = _writer.SnapshotItems(snapshot);
        var lockKey = Keys.WriteLock(key);
        var token = RedisLocks.NewToken();
        var locked = false;
        try
        {
            locked = await AcquireWriteLockAsync(lockKey, token, cancellationToken).ConfigureAwait(false);
            if (!locked)
            {
                Log.WriteLockBusy(_connection.Logger, lockKey, key, "held by another writer through every retry");
                return;
            }

            await _writer.WriteAsync(key, items, requiredKey: null)
                .WaitAsync(OperationTimeout, _connection.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            _connection.ReportFailure("write", key, ex);
        }
        finally
        {
            if (locked)
            {
                await ReleaseQuietlyAsync(key, lockKey, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Stigg's <c>updateUsage</c> (§7.5, §8.2): writes the single usage key and its <c>#timestamp</c> only when
    /// <c>P:C#timestamp</c> exists and the stored usage timestamp is not newer. Takes no lock.
    /// </summary>
    public async ValueTask WriteUsageAsync(CustomerKey key, UsageUpdate update, CancellationToken cancellationToken)
    {
        var item = _writer.UsageItem(key, update);
        var required = RedisKeyspace.Timestamp(Keys.Entitlements(key));
        await _connection.RunAsync("usage write", key, () => _writer.WriteAsync(key, [item], required), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stigg's <c>purge</c>: deletes the entitlements, metadata and both timestamps; usage keys stay.</summary>
    public async ValueTask RemoveAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        var entitlements = Keys.Entitlements(key);
        var metadata = Keys.Metadata(key);
        RedisKey[] keys = [entitlements, RedisKeyspace.Timestamp(entitlements), metadata, RedisKeyspace.Timestamp(metadata)];
        await _connection.RunAsync("purge", key, () => _connection.Database.KeyDeleteAsync(keys), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Nothing to release: the connection belongs to whoever created it and is disposed there.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task<bool> AcquireWriteLockAsync(string lockKey, string token, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var taken = await RedisLocks.TryTakeAsync(_connection.Database, lockKey, token)
                .WaitAsync(OperationTimeout, _connection.Time, cancellationToken).ConfigureAwait(false);
            if (taken)
            {
                return true;
            }

            if (attempt == LockRetryCount)
            {
                return false;
            }

            // redlock: retryDelay ± retryJitter.
            var delay = LockRetryDelayMs + Random.Shared.Next(-LockRetryJitterMs, LockRetryJitterMs + 1);
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, delay)), _connection.Time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReleaseQuietlyAsync(CustomerKey key, string lockKey, string token)
    {
        try
        {
            await RedisLocks.ReleaseAsync(_connection.Database, lockKey, token)
                .WaitAsync(OperationTimeout, _connection.Time).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The lock expires by itself after 5 s.
            _connection.ReportFailure("lock release", key, ex);
        }
    }
}
