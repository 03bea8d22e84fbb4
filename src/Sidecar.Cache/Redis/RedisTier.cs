using System.Text.Json;
using Microsoft.Extensions.Logging;
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
/// <para>Availability: start-up never waits for or fails on Redis (the client keeps reconnecting in the background).
/// Every operation is bounded by <see cref="RedisTierOptions.OperationTimeout"/>; a Redis error or timeout is logged
/// (rate-limited) and answered as a miss (reads) or a no-op (writes), as Stigg's "safe" wrapper does (§7.5).</para>
/// <para>Versions: <see cref="CustomerSnapshot.EntitlementsTimestamp"/> is the <c>P:C#timestamp</c> value, and each
/// usage record's <c>UsageUpdatedAt</c> is its usage key's <c>#timestamp</c>; the per-entitlement
/// <c>entitlementUpdatedAt</c> is not part of Stigg's layout, so it reads back as the entitlements timestamp.</para>
/// <para><see cref="CustomerSnapshot.FetchedAt"/> of a snapshot read from Redis is the time of the read. In Stigg's
/// model Redis is authoritative and kept current by its writers (persistent-cache-service, the other sidecars'
/// refetches), so data found there counts as confirmed now; the layout has no fetch-time key, and using the
/// entitlements timestamp instead would make every entry that has not changed for a while look stale at once.</para>
/// <para>Reads always take the whole customer (Stigg can read one entitlement): if any metered feature or credit lacks
/// its usage key or usage <c>#timestamp</c>, the whole entry is a miss (Stigg's rule applied to every entitlement).</para>
/// </remarks>
public sealed class RedisTier : ISnapshotTier
{
    // redlock's defaults, which Stigg's setCustomer lock uses when the first attempt finds the lock taken.
    private const int LockRetryCount = 10;
    private const int LockRetryDelayMs = 200;
    private const int LockRetryJitterMs = 200;

    // Stigg checks the stored timestamps and then writes; we make that check-and-set atomic with WATCH and redo it
    // when a concurrent writer (e.g. persistent-cache-service, which does not take our lock) got in between.
    private const int OptimisticAttempts = 3;

    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly ConnectionMultiplexer _mux;
    private readonly ILogger _logger;
    private readonly LogThrottle _errorLogs;
    private readonly LogThrottle _disconnectedLogs;
    private readonly LogThrottle _connectionLogs;
    private readonly LogThrottle _dataLogs;

    private RedisTier(ConnectionMultiplexer mux, RedisTierOptions options, ILogger logger, TimeProvider time)
    {
        _mux = mux;
        _logger = logger;
        Options = options;
        Time = time;
        Keys = new RedisKeyspace(options.EnvironmentPrefix);
        Database = mux.GetDatabase(options.Db);
        _errorLogs = new LogThrottle(time, LogInterval);
        _disconnectedLogs = new LogThrottle(time, LogInterval);
        _connectionLogs = new LogThrottle(time, LogInterval);
        _dataLogs = new LogThrottle(time, LogInterval);
        _mux.ConnectionFailed += OnConnectionFailed;
        _mux.ConnectionRestored += OnConnectionRestored;
    }

    public string Name => "redis";

    /// <summary>True while at least one connection to Redis is up.</summary>
    public bool IsConnected => _mux.IsConnected;

    internal RedisTierOptions Options { get; }

    internal TimeProvider Time { get; }

    internal RedisKeyspace Keys { get; }

    internal IDatabase Database { get; }

    internal ConnectionMultiplexer Multiplexer => _mux;

    internal ILogger Logger => _logger;

    /// <summary>
    /// Creates the tier. Returns once connected or after <see cref="RedisTierOptions.ConnectTimeout"/>, whichever is
    /// first: an unreachable Redis is logged, never thrown, and the client keeps reconnecting.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid (not a Redis availability problem).</exception>
    public static async Task<RedisTier> ConnectAsync(
        RedisTierOptions options,
        ILogger logger,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();

        var endpoint = $"{options.Host}:{options.Port}";
        Log.Connecting(logger, endpoint, options.Db, options.Tls, options.EnvironmentPrefix);
        var operationMs = (int)Math.Ceiling(options.OperationTimeout.TotalMilliseconds);
        var config = new ConfigurationOptions
        {
            EndPoints = { { options.Host, options.Port } },
            DefaultDatabase = options.Db,
            User = options.Username,
            Password = options.Password,
            Ssl = options.Tls,
            SslHost = options.Tls ? options.Host : null,
            ClientName = "stigg-sidecar-aot",
            AbortOnConnectFail = false,
            ConnectRetry = 1,
            ConnectTimeout = (int)Math.Ceiling(options.ConnectTimeout.TotalMilliseconds),

            // Our own bound (WaitAsync) answers the request; the library's timeout only reclaims abandoned commands.
            SyncTimeout = Math.Max(1000, operationMs),
            AsyncTimeout = Math.Max(1000, operationMs),

            // While disconnected, fail at once (a miss) instead of queueing requests until the timeout.
            BacklogPolicy = BacklogPolicy.FailFast,

            // Close to Stigg's ioredis strategy, min(2^n × 100, 8000) ms plus jitter.
            ReconnectRetryPolicy = new ExponentialRetry(100, 8000),
        };

        var connecting = ConnectionMultiplexer.ConnectAsync(config);
        ConnectionMultiplexer mux;
        try
        {
            mux = await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Start-up was abandoned: close the connection once the attempt settles instead of leaking it.
            _ = connecting.ContinueWith(
                static t => t.Result.Dispose(),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion,
                TaskScheduler.Default);
            throw;
        }

        var tier = new RedisTier(mux, options, logger, timeProvider);
        if (!mux.IsConnected)
        {
            Log.NotConnectedAtStart(logger, endpoint);
        }

        return tier;
    }

    /// <inheritdoc/>
    public async ValueTask<CustomerSnapshot?> ReadAsync(CustomerKey key, CancellationToken cancellationToken) =>
        await RunAsync("read", key, () => ReadCoreAsync(key), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Stigg's <c>setCustomer</c> (§7.5): under the <c>P-{customer}[:{resource}]</c> lock, writes the entitlements
    /// map, the metadata and one usage key per metered feature / credit, each with its <c>#timestamp</c>, skipping
    /// every item whose stored timestamp is newer (epoch 0 always wins), all in one MULTI/EXEC.
    /// </summary>
    public async ValueTask WriteAsync(CustomerSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var key = snapshot.Key;
        if (!CheckConnected("write", key))
        {
            return;
        }

        var items = BuildItems(snapshot);
        var lockKey = Keys.WriteLock(key);
        var token = RedisLocks.NewToken();
        var locked = false;
        try
        {
            locked = await AcquireWriteLockAsync(lockKey, token, cancellationToken).ConfigureAwait(false);
            if (!locked)
            {
                Log.WriteLockBusy(_logger, lockKey, key);
                return;
            }

            await WriteItemsAsync(key, items, requiredKey: null)
                .WaitAsync(Options.OperationTimeout, Time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            ReportFailure("write", key, ex);
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
        var item = new WriteItem(
            Keys.Usage(key, update.Type, update.Id),
            StiggCacheFormat.WriteUsage(update.CurrentUsage, update.UsagePeriodStart, update.UsagePeriodEnd),
            update.Timestamp);
        var required = RedisKeyspace.Timestamp(Keys.Entitlements(key));
        await RunAsync("usage write", key, () => WriteItemsAsync(key, [item], required), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stigg's <c>purge</c>: deletes the entitlements, metadata and both timestamps; usage keys stay.</summary>
    public async ValueTask RemoveAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        var entitlements = Keys.Entitlements(key);
        var metadata = Keys.Metadata(key);
        RedisKey[] keys = [entitlements, RedisKeyspace.Timestamp(entitlements), metadata, RedisKeyspace.Timestamp(metadata)];
        await RunAsync("purge", key, () => Database.KeyDeleteAsync(keys), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _mux.ConnectionFailed -= OnConnectionFailed;
        _mux.ConnectionRestored -= OnConnectionRestored;

        // Shutdown must not wait on a Redis that is down: drop pending commands and bound the close.
        try
        {
            await _mux.CloseAsync(allowCommandsToComplete: false).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or RedisException)
        {
            // Closing is best effort; Dispose below releases the sockets either way.
        }

        _mux.Dispose();
    }

    /// <summary>Logs an exception from a Redis call (rate-limited, password redacted).</summary>
    internal void ReportFailure(string operation, CustomerKey key, Exception ex)
    {
        if (_errorLogs.TryEnter(out var suppressed))
        {
            var type = ex is TimeoutException ? "Timeout" : ex.GetType().Name;
            Log.OperationFailed(_logger, operation, key, type, Redact(ex.Message), suppressed);
        }
    }

    internal string Redact(string message) =>
        string.IsNullOrEmpty(Options.Password) ? message : message.Replace(Options.Password, "*****", StringComparison.Ordinal);

    private bool CheckConnected(string operation, CustomerKey key)
    {
        if (_mux.IsConnected)
        {
            return true;
        }

        if (_disconnectedLogs.TryEnter(out var suppressed))
        {
            Log.NotConnected(_logger, operation, key, suppressed);
        }

        return false;
    }

    private async Task<T?> RunAsync<T>(string operation, CustomerKey key, Func<Task<T>> body, CancellationToken cancellationToken)
    {
        if (!CheckConnected(operation, key))
        {
            return default;
        }

        try
        {
            return await body().WaitAsync(Options.OperationTimeout, Time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            ReportFailure(operation, key, ex);
            return default;
        }
    }

    private async Task<CustomerSnapshot?> ReadCoreAsync(CustomerKey key)
    {
        var entitlementsKey = Keys.Entitlements(key);
        var metadataKey = Keys.Metadata(key);
        RedisKey[] keys = key.ResourceId is null
            ? [entitlementsKey, metadataKey, RedisKeyspace.Timestamp(entitlementsKey)]
            : [entitlementsKey, metadataKey, RedisKeyspace.Timestamp(entitlementsKey), Keys.GlobalTimestamp(key)];
        var values = await Database.StringGetAsync(keys).ConfigureAwait(false);

        // A missing or empty value is a miss ("{}" is a hit with no entitlements); so is a value without its
        // timestamp (a torn pair).
        if (values[0].IsNullOrEmpty || StiggCacheFormat.ParseTimestamp(values[2]) is not { } version)
        {
            return null;
        }

        var now = Time.GetUtcNow().ToUnixTimeMilliseconds();
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
                    var usageKey = Keys.Usage(key, entry.Type, entry.Id);
                    usageKeys[i++] = usageKey;
                    usageKeys[i++] = RedisKeyspace.Timestamp(usageKey);
                }
            }

            usageValues = await Database.StringGetAsync(usageKeys).ConfigureAwait(false);
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
                var usageKey = Keys.Usage(key, entry.Type, entry.Id);
                if (value.IsNullOrEmpty || usageTimestamp is null)
                {
                    if (_dataLogs.TryEnter(out _))
                    {
                        Log.UsageMissing(_logger, usageKey);
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
            if (_dataLogs.TryEnter(out _))
            {
                Log.CorruptValue(_logger, redisKey, ex.Message);
            }

            result = default!;
            return false;
        }
    }

    private WriteItem[] BuildItems(CustomerSnapshot snapshot)
    {
        var key = snapshot.Key;
        var items = new List<WriteItem>(2 + snapshot.Features.Count + snapshot.Credits.Count)
        {
            new(Keys.Entitlements(key), StiggCacheFormat.WriteEntitlements(snapshot), snapshot.EntitlementsTimestamp),
            new(Keys.Metadata(key), StiggCacheFormat.WriteMetadata(snapshot.CustomerReason), snapshot.EntitlementsTimestamp),
        };

        foreach (var f in snapshot.Features)
        {
            if (f.IsMetered)
            {
                items.Add(new WriteItem(
                    Keys.FeatureUsage(key, f.FeatureId),
                    StiggCacheFormat.WriteUsage(f.CurrentUsage, f.UsagePeriodStart, f.UsagePeriodEnd),
                    StiggCacheFormat.UsageTimestamp(f.UsageUpdatedAt, snapshot.FetchedAt)));
            }
        }

        foreach (var c in snapshot.Credits)
        {
            items.Add(new WriteItem(
                Keys.CreditUsage(key, c.CurrencyId),
                StiggCacheFormat.WriteUsage(c.CurrentUsage, null, c.UsagePeriodEnd),
                StiggCacheFormat.UsageTimestamp(c.UsageUpdatedAt, snapshot.FetchedAt)));
        }

        return [.. items];
    }

    /// <summary>
    /// The timestamp-guarded batch write (§7.5 <c>updateCacheItems</c>). With <paramref name="requiredKey"/>, nothing
    /// is written unless that key exists (updateUsage's "customer is stored" rule), checked atomically with the write.
    /// </summary>
    /// <returns>True when something was written.</returns>
    private async Task<bool> WriteItemsAsync(CustomerKey key, WriteItem[] items, string? requiredKey)
    {
        var expiry = Options.KeysTtl;
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
            var stored = await Database.StringGetAsync(timestampKeys).ConfigureAwait(false);
            if (requiredKey is not null && stored[^1].IsNull)
            {
                Log.UsageSkippedCustomerAbsent(_logger, key);
                return false;
            }

            var tx = Database.CreateTransaction();
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
                    Log.WriteSkippedOlder(_logger, item.Key, storedTs, item.MessageTimestamp);
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

        Log.WriteConflict(_logger, key);
        return false;
    }

    private async Task<bool> AcquireWriteLockAsync(string lockKey, string token, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var taken = await RedisLocks.TryTakeAsync(Database, lockKey, token)
                .WaitAsync(Options.OperationTimeout, Time, cancellationToken).ConfigureAwait(false);
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
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, delay)), Time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReleaseQuietlyAsync(CustomerKey key, string lockKey, string token)
    {
        try
        {
            await RedisLocks.ReleaseAsync(Database, lockKey, token).WaitAsync(Options.OperationTimeout, Time).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The lock expires by itself after 5 s.
            ReportFailure("lock release", key, ex);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (_connectionLogs.TryEnter(out _))
        {
            Log.ConnectionFailed(_logger, e.ConnectionType, e.EndPoint, e.FailureType);
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) =>
        Log.ConnectionRestored(_logger, e.ConnectionType, e.EndPoint);

    private delegate T ReadOnlySpanFunc<out T>(ReadOnlySpan<byte> value);

    private readonly record struct WriteItem(string Key, RedisValue Value, long MessageTimestamp);
}
