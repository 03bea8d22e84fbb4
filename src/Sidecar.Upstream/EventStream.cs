using System.Net;
using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sidecar.Upstream.Internal;

namespace Sidecar.Upstream;

/// <summary>
/// Stigg's real-time updates: holds the three V2 subscriptions (stigg-behaviour §3) on a
/// <see cref="GraphQlWsConnection"/> to <c>{WsUrl}/graphql</c>, and reconnects with jittered exponential back-off after
/// any drop, until the API key is refused. <see cref="StiggEventDecoder"/> turns what arrives into events.
/// </summary>
/// <remarks>
/// Events are read on the socket's task and handed to the handlers on a second task through a bounded queue, in
/// order: a slow handler delays later events but not the keep-alive. If the queue fills up (10 000 events), reading
/// pauses until the handlers catch up.
/// </remarks>
public sealed class EventStream : IAsyncDisposable
{
    private const int QueueCapacity = 10_000;

    private readonly UpstreamOptions _options;
    private readonly EventStreamHandlers _handlers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly StiggEventDecoder _decoder;
    private readonly Uri _uri;
    private readonly IReadOnlyList<KeyValuePair<string, string>> _initHeaders;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<StiggEvent> _events = Channel.CreateBounded<StiggEvent>(new BoundedChannelOptions(QueueCapacity)
    {
        SingleReader = true,
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private volatile EventStreamState _state = EventStreamState.Disconnected;
    private CancellationTokenRegistration _startRegistration;
    private Task? _loop;
    private Task? _dispatcher;
    private int _started;
    private int _disposed;
    private int _connections;

    public EventStream(UpstreamOptions options, EventStreamHandlers handlers, ILogger logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handlers);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _handlers = handlers;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _decoder = new StiggEventDecoder(_time, logger);
        _uri = GraphQlSocketUri(options.WsUrl);

        // connection_init carries the same identification as HTTP requests, minus X-API-VERSION (§3.1).
        _initHeaders = SdkHeaders.Common(options);
    }

    public EventStreamState State => _state;

    /// <summary>How many times a connection was acknowledged.</summary>
    internal int ConnectionCount => Volatile.Read(ref _connections);

    internal Uri Url => _uri;

    /// <summary>The background loop; completes when the stream stops for good (disposed or key refused).</summary>
    internal Task Completion => _loop ?? Task.CompletedTask;

    /// <summary>
    /// Starts connecting in the background and returns at once. Cancelling <paramref name="ct"/> later stops the
    /// stream as <see cref="DisposeAsync"/> does (closing the socket cleanly).
    /// </summary>
    public Task StartAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The event stream is already started.");
        }

        if (ct.CanBeCanceled)
        {
            _startRegistration = ct.UnsafeRegister(static s => ((EventStream)s!).RequestStop(), this);
        }

        _dispatcher = Task.Run(DispatchAsync, CancellationToken.None);
        _loop = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Closes the socket with a normal closure and waits for the background tasks to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _startRegistration.DisposeAsync().ConfigureAwait(false);
        RequestStop();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _events.Writer.TryComplete();
        if (_dispatcher is not null)
        {
            await _dispatcher.ConfigureAwait(false);
        }

        _stop.Dispose();
        if (_state != EventStreamState.InvalidApiKey)
        {
            SetState(EventStreamState.Disconnected);
        }

        Log.StreamStopped(_logger);
    }

    internal static Uri GraphQlSocketUri(Uri baseUri)
    {
        var builder = new UriBuilder(baseUri);
        builder.Scheme = builder.Scheme switch
        {
            "http" => "ws",
            "https" => "wss",
            _ => builder.Scheme,
        };
        if (builder.Uri.IsDefaultPort)
        {
            builder.Port = -1;
        }

        builder.Path = builder.Path.TrimEnd('/') + "/graphql";
        return builder.Uri;
    }

    private void RequestStop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed: nothing left to stop.
        }
    }

    private async Task RunAsync()
    {
        var everConnected = false;
        var failures = 0;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                SetState(EventStreamState.Connecting);
                var outcome = await RunConnectionAsync(isReconnect: everConnected).ConfigureAwait(false);
                everConnected |= outcome.Acknowledged;
                if (_stop.IsCancellationRequested)
                {
                    break;
                }

                if (outcome.InvalidApiKey)
                {
                    SetState(EventStreamState.InvalidApiKey);
                    Log.StreamInvalidApiKey(_logger, outcome.Reason);
                    return;
                }

                // Only a connection that held for a while proves the upstream healthy again.
                if (outcome.ConnectedFor >= _options.WsReconnectMax)
                {
                    failures = 0;
                }

                SetState(EventStreamState.Disconnected);
                var delay = Backoff.ReconnectDelay(failures++, _options.WsReconnectMin, _options.WsReconnectMax);
                Log.StreamDisconnected(_logger, outcome.Reason, (long)delay.TotalMilliseconds);
                await Task.Delay(delay, _time, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Stopping.
        }

        SetState(EventStreamState.Disconnected);
    }

    /// <summary>One socket's life: connect, init, ack, subscribe, then read until it ends. Never throws.</summary>
    private async Task<Outcome> RunConnectionAsync(bool isReconnect)
    {
        Log.StreamConnecting(_logger, _uri.OriginalString);
        using var connection = new GraphQlWsConnection(_time, _logger);
        var acknowledged = false;
        long connectedAt = 0;
        try
        {
            using (var connectTimeout = new CancellationTokenSource(_options.WsConnectTimeout, _time))
            using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, connectTimeout.Token))
            {
                try
                {
                    acknowledged = await connection.ConnectAsync(_uri, _initHeaders, connecting.Token).ConfigureAwait(false);
                }
                catch (WebSocketException) when (connection.UpgradeStatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    return Outcome.Refused($"HTTP {(int)connection.UpgradeStatusCode} on the WebSocket upgrade");
                }

                if (!acknowledged)
                {
                    return ClosedByServer(connection, acknowledged: false, TimeSpan.Zero);
                }

                foreach (var subscription in StiggEventDecoder.Subscriptions)
                {
                    await connection.SubscribeAsync(subscription.Id, subscription.OperationName, subscription.Query, connecting.Token)
                        .ConfigureAwait(false);
                }
            }

            connectedAt = _time.GetTimestamp();
            Interlocked.Increment(ref _connections);
            SetState(EventStreamState.Connected);
            Log.StreamConnected(_logger, isReconnect);
            await _events.Writer.WriteAsync(new ConnectedEvent(isReconnect), _stop.Token).ConfigureAwait(false);

            // From here on the socket is read without a token (cancelling a read aborts the socket): stopping closes
            // it cleanly instead, and the keep-alive aborts it if it goes silent.
            using var closeOnStop = _stop.Token.UnsafeRegister(
                static s => _ = ((GraphQlWsConnection)s!).CloseGracefullyAsync("client shutdown"), connection);
            using var keepAliveStop = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var keepAlive = connection.KeepAliveAsync(_options.WsPingInterval, keepAliveStop.Token);
            try
            {
                return await ReadEventsAsync(connection, connectedAt).ConfigureAwait(false);
            }
            finally
            {
                await keepAliveStop.CancelAsync().ConfigureAwait(false);
                await keepAlive.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return Outcome.Failed("stopped", acknowledged, Elapsed(connectedAt));
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or HttpRequestException
                                       or ObjectDisposedException or InvalidDataException)
        {
            // An aborted socket fails its pending read with either a WebSocketException or a cancellation.
            var reason = connection.AbortedByKeepAlive ? "no answer to pings"
                : ex is OperationCanceledException && !acknowledged ? $"not acknowledged within {_options.WsConnectTimeout.TotalMilliseconds:0} ms"
                : ex.Message;
            return Outcome.Failed(reason, acknowledged, Elapsed(connectedAt));
        }
    }

    private TimeSpan Elapsed(long since) => since == 0 ? TimeSpan.Zero : _time.GetElapsedTime(since);

    private async Task<Outcome> ReadEventsAsync(GraphQlWsConnection connection, long connectedAt)
    {
        while (await connection.ReceiveAsync(CancellationToken.None).ConfigureAwait(false) is { } message)
        {
            switch (message.Type)
            {
                case "next":
                    if (_decoder.Decode(message.Id, message.Payload) is { } e)
                    {
                        await _events.Writer.WriteAsync(e, _stop.Token).ConfigureAwait(false);
                    }

                    break;
                case "error":
                {
                    var operation = StiggEventDecoder.OperationOf(message.Id);
                    var text = message.ErrorMessage();
                    if (text.Contains("Invalid API key", StringComparison.OrdinalIgnoreCase))
                    {
                        await connection.CloseOutputAsync("invalid API key").ConfigureAwait(false);
                        return Outcome.Refused($"{operation}: {text}");
                    }

                    if (text.Contains("ThrottlerException", StringComparison.Ordinal))
                    {
                        Log.StreamSubscriptionThrottled(_logger, operation, text);
                    }
                    else
                    {
                        Log.StreamSubscriptionError(_logger, operation, text);
                    }

                    // The subscription is gone; start over on a fresh socket (Stigg's SDK re-initialises too).
                    await connection.CloseOutputAsync("resubscribing").ConfigureAwait(false);
                    return Outcome.Failed($"subscription {operation} failed", acknowledged: true, Elapsed(connectedAt));
                }

                case "complete":
                    await connection.CloseOutputAsync("resubscribing").ConfigureAwait(false);
                    return Outcome.Failed(
                        $"the server completed {StiggEventDecoder.OperationOf(message.Id)}", acknowledged: true, Elapsed(connectedAt));
                default:
                    // connection_ack repeats and unknown types: nothing to act on.
                    break;
            }
        }

        return ClosedByServer(connection, acknowledged: true, Elapsed(connectedAt));
    }

    private async Task DispatchAsync()
    {
        try
        {
            await foreach (var item in _events.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    switch (item)
                    {
                        case ConnectedEvent c:
                            await _handlers.OnConnected(c.IsReconnect).ConfigureAwait(false);
                            break;
                        case EntitlementsUpdatedEvent u:
                            await _handlers.OnEntitlementsUpdated(u.Snapshot).ConfigureAwait(false);
                            break;
                        case EntitlementsRemovedEvent r:
                            await _handlers.OnEntitlementsRemoved(r.Key).ConfigureAwait(false);
                            break;
                        case UsageUpdatedEvent u:
                            await _handlers.OnUsageUpdated(u.Key, u.Update).ConfigureAwait(false);
                            break;
                        case PackagePublishedEvent p:
                            await _handlers.OnPackagePublished(p.AllCustomers).ConfigureAwait(false);
                            break;
                    }
                }
                catch (Exception ex)
                {
                    Log.StreamHandlerFailed(_logger, ex, HandlerName(item));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping: undelivered events are moot, the process is going away or restarting the stream.
        }
    }

    private static string HandlerName(StiggEvent item) => item switch
    {
        ConnectedEvent => nameof(EventStreamHandlers.OnConnected),
        EntitlementsUpdatedEvent => nameof(EventStreamHandlers.OnEntitlementsUpdated),
        EntitlementsRemovedEvent => nameof(EventStreamHandlers.OnEntitlementsRemoved),
        UsageUpdatedEvent => nameof(EventStreamHandlers.OnUsageUpdated),
        PackagePublishedEvent => nameof(EventStreamHandlers.OnPackagePublished),
        _ => item.GetType().Name,
    };

    private static Outcome ClosedByServer(GraphQlWsConnection connection, bool acknowledged, TimeSpan connectedFor)
    {
        var code = connection.CloseStatus is { } status ? (int)status : 0;
        var description = connection.CloseStatusDescription ?? string.Empty;
        var reason = $"closed by the server ({code} {description})".Replace(" )", ")", StringComparison.Ordinal);

        // graphql-ws closes a refused connection_init with 4403 Forbidden (4401 Unauthorized is the pre-ack case);
        // Stigg's SDK gives up on the reason "Invalid API key" (§3.5).
        if (code is 4401 or 4403 || description.Contains("Invalid API key", StringComparison.OrdinalIgnoreCase))
        {
            return Outcome.Refused(reason);
        }

        return Outcome.Failed(reason, acknowledged, connectedFor);
    }

    private void SetState(EventStreamState state)
    {
        if (_state == state)
        {
            return;
        }

        _state = state;
        try
        {
            _handlers.OnStateChanged(state);
        }
        catch (Exception ex)
        {
            Log.StreamHandlerFailed(_logger, ex, nameof(EventStreamHandlers.OnStateChanged));
        }
    }

    private readonly record struct Outcome(bool Acknowledged, bool InvalidApiKey, string Reason, TimeSpan ConnectedFor)
    {
        public static Outcome Refused(string reason) => new(false, true, reason, TimeSpan.Zero);

        public static Outcome Failed(string reason, bool acknowledged, TimeSpan connectedFor) => new(acknowledged, false, reason, connectedFor);
    }

    /// <summary>Queued with the events so the handlers learn of a (re)connect in order with them.</summary>
    private sealed record ConnectedEvent(bool IsReconnect) : StiggEvent;
}
