using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sidecar.Cache.Redis.Internal;
using Sidecar.Core;
using Sidecar.Core.Model;
using StackExchange.Redis;

namespace Sidecar.Cache.Redis;

/// <summary>
/// Cross-sidecar single-flight of a cache-miss fetch (stigg-behaviour §7.6), wire-compatible with Stigg's SDK: the
/// lock <c>P:refetchEntityEntitlementsAfterCacheMiss-{customer}[:{resource}]</c>, the channel
/// <c>P:refetchEntityEntitlementsAfterCacheMiss:{customer}[:{resource}]</c> and its <c>{}</c> /
/// <c>{"error":"…"}</c> payloads. Sits below the caller's in-process single-flight.
/// </summary>
/// <remarks>
/// Redis trouble never blocks a fetch (DESIGN decision 3): when Redis is down, or the subscribe or the lock attempt
/// fails, the caller's fetch runs directly; Stigg's SDK would throw "Redis is not connected" and serve the fallback
/// instead. A waiter that was told the entry is stored but cannot read it back also fetches itself.
/// </remarks>
public sealed class RedisFetchCoordinator : IFetchCoordinator
{
    private const string RemoteErrorPrefix = "A remote execution encountered error: ";
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly RedisConnection _connection;
    private readonly RedisTier _tier;
    private readonly RedisSnapshotReader _reader;
    private readonly TimeSpan _waitTimeout;
    private readonly LogThrottle _unavailableLogs;

    /// <param name="connection">The sidecar's Redis connection (shared with its <see cref="RedisTier"/>).</param>
    /// <param name="tier">The tier a fetched snapshot is stored in before the other sidecars are told.</param>
    /// <param name="waitTimeout">How long a waiter waits for the notification: the entitlements timeout plus a
    /// 500 ms buffer in Stigg. Past it, the waiter fetches itself.</param>
    public RedisFetchCoordinator(RedisConnection connection, RedisTier tier, TimeSpan waitTimeout)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(tier);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(waitTimeout, TimeSpan.Zero);
        _connection = connection;
        _tier = tier;
        _reader = new RedisSnapshotReader(connection);
        _waitTimeout = waitTimeout;
        _unavailableLogs = new LogThrottle(connection.Time, LogInterval);
    }

    /// <inheritdoc/>
    public ISnapshotTier SharedTier => _tier;

    /// <summary>
    /// Runs <paramref name="fetch"/> in at most one sidecar at a time for <paramref name="key"/> and stores its result
    /// in Redis before telling the others, which wait for the notification and read the stored entry.
    /// </summary>
    /// <param name="key">The entry that missed.</param>
    /// <param name="fetch">Fetches from the source (the Edge/API).</param>
    /// <param name="cancellationToken">Cancels the wait or the fetch.</param>
    /// <returns>The snapshot this call fetched or that another sidecar stored. Never null: every path that cannot
    /// produce one from Redis fetches itself (and stores what it fetched).</returns>
    /// <exception cref="RedisRemoteFetchException">The sidecar that held the lock reported that its fetch failed.</exception>
    /// <remarks>Exceptions of <paramref name="fetch"/> propagate (after being published to the waiters).</remarks>
    public async Task<CustomerSnapshot> FetchOnceAsync(
        CustomerKey key,
        Func<CancellationToken, Task<CustomerSnapshot>> fetch,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fetch);

        // Whoever fetches stores in Redis before answering, so a notification always finds the entry stored.
        async Task<CustomerSnapshot> fetchAndStore(CancellationToken ct)
        {
            var snapshot = await fetch(ct).ConfigureAwait(false);
            await _tier.WriteAsync(snapshot, ct).ConfigureAwait(false);
            return snapshot;
        }

        if (!_connection.IsConnected)
        {
            return await FetchDirectlyAsync(key, "not connected", fetchAndStore, cancellationToken).ConfigureAwait(false);
        }

        var keys = _connection.Keys;
        var channel = RedisChannel.Literal(keys.RefetchChannel(key));
        var lockKey = keys.RefetchLock(key);
        var token = RedisLocks.NewToken();

        // Subscribe before trying the lock, so the winner's notification cannot slip by between the two.
        ChannelMessageQueue queue;
        bool won;
        var subscribing = _connection.Multiplexer.GetSubscriber().SubscribeAsync(channel);
        try
        {
            queue = await subscribing.WaitAsync(_connection.Options.OperationTimeout, _connection.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Given up on, but it may still complete: do not leave the subscription behind.
            _ = subscribing.ContinueWith(
                static t => t.Result.Unsubscribe(CommandFlags.FireAndForget),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion,
                TaskScheduler.Default);
            cancellationToken.ThrowIfCancellationRequested();
            return await FetchDirectlyAsync(key, Describe(ex), fetchAndStore, cancellationToken).ConfigureAwait(false);
        }

        var locking = RedisLocks.TryTakeAsync(_connection.Database, lockKey, token);
        try
        {
            won = await locking.WaitAsync(_connection.Options.OperationTimeout, _connection.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A late success would hold the lock for 5 s with nobody fetching: release it as soon as it lands.
            var database = _connection.Database;
            _ = locking.ContinueWith(
                t => t.Result ? RedisLocks.ReleaseAsync(database, lockKey, token) : Task.FromResult(false),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion,
                TaskScheduler.Default).Unwrap().ContinueWith(
                static t => _ = t.Exception,
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted,
                TaskScheduler.Default);
            await UnsubscribeQuietlyAsync(queue).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return await FetchDirectlyAsync(key, Describe(ex), fetchAndStore, cancellationToken).ConfigureAwait(false);
        }

        if (won)
        {
            await UnsubscribeQuietlyAsync(queue).ConfigureAwait(false);
            return await FetchAsWinnerAsync(key, lockKey, token, channel, fetchAndStore, cancellationToken).ConfigureAwait(false);
        }

        string? message;
        try
        {
            Log.RefetchWaiting(_connection.Logger, key, _waitTimeout.TotalMilliseconds);
            message = await WaitForNotificationAsync(queue, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await UnsubscribeQuietlyAsync(queue).ConfigureAwait(false);
        }

        if (message is null)
        {
            Log.RefetchWaitTimedOut(_connection.Logger, key, $"no notification within {_waitTimeout.TotalMilliseconds:0} ms");
            return await fetchAndStore(cancellationToken).ConfigureAwait(false);
        }

        if (ParseError(message) is { } error)
        {
            Log.RefetchRemoteError(_connection.Logger, key, error);
            throw new RedisRemoteFetchException(RemoteErrorPrefix + error);
        }

        if (await _connection.RunAsync("read", key, () => _reader.ReadAsync(key), cancellationToken).ConfigureAwait(false) is { } stored)
        {
            return stored;
        }

        Log.RefetchReadBackMissed(_connection.Logger, key);
        return await fetchAndStore(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The notification payload: null on success (<c>{}</c>), else the error message.</summary>
    internal static string? ParseError(string message)
    {
        try
        {
            using var doc = JsonDocument.Parse(message);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind != JsonValueKind.Null)
            {
                return error.ValueKind == JsonValueKind.String ? error.GetString() ?? string.Empty : error.GetRawText();
            }
        }
        catch (JsonException)
        {
            // Not JSON: treat it as "stored"; the read-back decides (and fetches here if it misses).
        }

        return null;
    }

    internal static string ErrorPayload(string message)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + message.Length);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("error", message);
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private async Task<CustomerSnapshot> FetchAsWinnerAsync(
        CustomerKey key,
        string lockKey,
        string token,
        RedisChannel channel,
        Func<CancellationToken, Task<CustomerSnapshot>> fetchAndStore,
        CancellationToken cancellationToken)
    {
        Log.RefetchWon(_connection.Logger, key);
        using var stopExtending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var extender = KeepLockAsync(lockKey, token, stopExtending.Token);
        try
        {
            var snapshot = await fetchAndStore(cancellationToken).ConfigureAwait(false);
            await PublishAsync(key, channel, "{}").ConfigureAwait(false);
            return snapshot;
        }
        catch (Exception ex)
        {
            await PublishAsync(key, channel, ErrorPayload(ex.Message)).ConfigureAwait(false);
            throw;
        }
        finally
        {
            await stopExtending.CancelAsync().ConfigureAwait(false);
            await extender.ConfigureAwait(false);
            try
            {
                await RedisLocks.ReleaseAsync(_connection.Database, lockKey, token)
                    .WaitAsync(_connection.Options.OperationTimeout, _connection.Time, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // It expires by itself within 5 s.
                _connection.ReportFailure("refetch lock release", key, ex);
            }
        }
    }

    /// <summary>
    /// Extends the refetch lock every third of its lock time while the fetch runs (redlock's auto-extension), so one
    /// late or failed tick on a busy machine still leaves time for the next before the lock expires.
    /// </summary>
    private async Task KeepLockAsync(string lockKey, string token, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(RedisLocks.Duration / 3, _connection.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                bool extended;
                try
                {
                    extended = await RedisLocks.TryExtendAsync(_connection.Database, lockKey, token)
                        .WaitAsync(_connection.Options.OperationTimeout, _connection.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Redis hiccup: try again on the next tick while the lock has not expired yet.
                    continue;
                }

                if (!extended)
                {
                    Log.RefetchLockLost(_connection.Logger, lockKey, "it expired or another sidecar took it over");
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The fetch finished.
        }
    }

    private async Task<string?> WaitForNotificationAsync(ChannelMessageQueue queue, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_waitTimeout, _connection.Time);
        using var connectionLost = new CancellationTokenSource();

        // A dropped connection means the notification may never arrive: stop waiting and fetch here.
        void OnFailed(object? sender, ConnectionFailedEventArgs e) => connectionLost.Cancel();
        _connection.Multiplexer.ConnectionFailed += OnFailed;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, connectionLost.Token);
        try
        {
            var message = await queue.ReadAsync(linked.Token).ConfigureAwait(false);
            return (string?)message.Message ?? string.Empty;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (System.Threading.Channels.ChannelClosedException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            _connection.Multiplexer.ConnectionFailed -= OnFailed;
        }
    }

    private async Task PublishAsync(CustomerKey key, RedisChannel channel, string payload)
    {
        try
        {
            await _connection.Multiplexer.GetSubscriber().PublishAsync(channel, payload)
                .WaitAsync(_connection.Options.OperationTimeout, _connection.Time).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.RefetchPublishFailed(_connection.Logger, key, _connection.Cause(ex));
        }
    }

    private async Task<CustomerSnapshot> FetchDirectlyAsync(
        CustomerKey key,
        string reason,
        Func<CancellationToken, Task<CustomerSnapshot>> fetchAndStore,
        CancellationToken cancellationToken)
    {
        if (_unavailableLogs.TryEnter(out var suppressed))
        {
            Log.RefetchCoordinationUnavailable(_connection.Logger, key, reason, suppressed);
        }

        return await fetchAndStore(cancellationToken).ConfigureAwait(false);
    }

    private async Task UnsubscribeQuietlyAsync(ChannelMessageQueue queue)
    {
        try
        {
            await queue.UnsubscribeAsync().WaitAsync(_connection.Options.OperationTimeout, _connection.Time).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The subscription goes with the connection; nothing to clean up.
        }
    }

    private string Describe(Exception ex) =>
        RedisConnection.ErrorType(ex) + ": " + _connection.Redact(ex.Message);
}
