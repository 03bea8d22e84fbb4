using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Upstream.Internal;

namespace Sidecar.Upstream;

/// <summary>
/// Stigg's real-time updates: a graphql-transport-ws client on <c>{WsUrl}/graphql</c> holding the three V2
/// subscriptions (stigg-behaviour §3). It keeps the socket alive with pings, answers the server's pings, and
/// reconnects with jittered exponential back-off after any drop, until the API key is refused.
/// </summary>
/// <remarks>
/// Events are read on the socket's task and handed to the handlers on a second task through a bounded queue, in
/// order: a slow handler delays later events but not the keep-alive. If the queue fills up (10 000 events), reading
/// pauses until the handlers catch up.
/// </remarks>
public sealed class EventStream : IAsyncDisposable
{
    internal const string SubProtocol = "graphql-transport-ws";
    private const string EntitlementsId = "entitlements";
    private const string UsageId = "usage";
    private const string PackagesId = "packages";
    private const int MaxFrameBytes = 32 * 1024 * 1024;
    private const int QueueCapacity = 10_000;

    /// <summary>A ping whose connection sent nothing back by the time this many more were due marks it dead.</summary>
    private const int MaxUnansweredPings = 2;

    private static readonly byte[] PingFrame = """{"type":"ping"}"""u8.ToArray();
    private static readonly byte[] PongFrame = """{"type":"pong"}"""u8.ToArray();
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private static readonly byte[] SubscribeEntitlements = GraphQlRequestWriter.Subscribe(
        EntitlementsId, GraphQlDocuments.OnEntitlementsUpdatedV2Name, GraphQlDocuments.OnEntitlementsUpdatedV2);

    private static readonly byte[] SubscribeUsage = GraphQlRequestWriter.Subscribe(
        UsageId, GraphQlDocuments.OnUsageUpdatedV2Name, GraphQlDocuments.OnUsageUpdatedV2);

    private static readonly byte[] SubscribePackages = GraphQlRequestWriter.Subscribe(
        PackagesId, GraphQlDocuments.OnPackagePublishedName, GraphQlDocuments.OnPackagePublished);

    private readonly UpstreamOptions _options;
    private readonly EventStreamHandlers _handlers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Uri _uri;
    private readonly byte[] _initFrame;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<StreamItem> _items = Channel.CreateBounded<StreamItem>(new BoundedChannelOptions(QueueCapacity)
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
    private long _pongs;
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
        _uri = GraphQlSocketUri(options.WsUrl);

        // connection_init carries the same identification as HTTP requests, minus X-API-VERSION (§3.1).
        _initFrame = GraphQlRequestWriter.ConnectionInit(SdkHeaders.Common(options));
    }

    public EventStreamState State => _state;

    /// <summary>Pongs received over the stream's life (keep-alive evidence for tests and diagnostics).</summary>
    internal long PongsReceived => Interlocked.Read(ref _pongs);

    /// <summary>How many times a connection was acknowledged.</summary>
    internal int ConnectionCount => Volatile.Read(ref _connections);

    internal Uri Url => _uri;

    /// <summary>The background loop; completes when the stream stops for good (disposed or key refused).</summary>
    internal Task Completion => _loop ?? Task.CompletedTask;

    /// <summary>Raised on the socket's task with the running pong count (diagnostics and tests).</summary>
    internal event Action<long>? PongReceived;

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

        _items.Writer.TryComplete();
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
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(SubProtocol);
        socket.Options.CollectHttpResponseDetails = true;
        using var connection = new Connection(socket, _time);
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        var acknowledged = false;
        long connectedAt = 0;
        try
        {
            using (var connectTimeout = new CancellationTokenSource(_options.WsConnectTimeout, _time))
            using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, connectTimeout.Token))
            {
                try
                {
                    await socket.ConnectAsync(_uri, connecting.Token).ConfigureAwait(false);
                }
                catch (WebSocketException) when (socket.HttpStatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    return Outcome.Refused($"HTTP {(int)socket.HttpStatusCode} on the WebSocket upgrade");
                }

                await connection.SendAsync(_initFrame, connecting.Token).ConfigureAwait(false);
                while (!acknowledged)
                {
                    if (!await ReceiveFrameAsync(socket, buffer, connecting.Token).ConfigureAwait(false))
                    {
                        return ClosedByServer(connection, acknowledged: false, TimeSpan.Zero);
                    }

                    switch (ParseFrame(buffer)?.Type)
                    {
                        case "connection_ack":
                            acknowledged = true;
                            break;
                        case "ping":
                            await connection.SendAsync(PongFrame, connecting.Token).ConfigureAwait(false);
                            break;
                        default:
                            // Nothing else is legal before the ack; graphql-ws servers do not send it.
                            break;
                    }
                }

                await connection.SendAsync(SubscribeEntitlements, connecting.Token).ConfigureAwait(false);
                await connection.SendAsync(SubscribeUsage, connecting.Token).ConfigureAwait(false);
                await connection.SendAsync(SubscribePackages, connecting.Token).ConfigureAwait(false);
            }

            connectedAt = _time.GetTimestamp();
            Interlocked.Increment(ref _connections);
            SetState(EventStreamState.Connected);
            Log.StreamConnected(_logger, isReconnect);
            await _items.Writer.WriteAsync(new ConnectedItem(isReconnect), _stop.Token).ConfigureAwait(false);

            // From here on the socket is read without a token (cancelling a read aborts the socket): stopping closes
            // it cleanly instead, and the keep-alive aborts it if it goes silent.
            using var closeOnStop = _stop.Token.UnsafeRegister(static s => _ = ((Connection)s!).CloseGracefullyAsync("client shutdown"), connection);
            using var keepAliveStop = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var keepAlive = KeepAliveAsync(connection, keepAliveStop.Token);
            try
            {
                return await ReadEventsAsync(connection, buffer, connectedAt).ConfigureAwait(false);
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
            var reason = connection.DeadByKeepAlive ? "no answer to pings"
                : ex is OperationCanceledException && !acknowledged ? $"not acknowledged within {_options.WsConnectTimeout.TotalMilliseconds:0} ms"
                : ex.Message;
            return Outcome.Failed(reason, acknowledged, Elapsed(connectedAt));
        }
        finally
        {
            connection.MarkFinished();
            if (socket.State == WebSocketState.CloseReceived)
            {
                // Complete the close handshake the server started.
                await connection.SendCloseAsync("closing").ConfigureAwait(false);
            }
        }
    }

    private TimeSpan Elapsed(long since) => since == 0 ? TimeSpan.Zero : _time.GetElapsedTime(since);

    private async Task<Outcome> ReadEventsAsync(Connection connection, ArrayBufferWriter<byte> buffer, long connectedAt)
    {
        while (true)
        {
            if (!await ReceiveFrameAsync(connection.Socket, buffer, CancellationToken.None).ConfigureAwait(false))
            {
                return ClosedByServer(connection, acknowledged: true, Elapsed(connectedAt));
            }

            // Any frame proves the connection alive, not just a pong (a busy stream may queue pongs behind events).
            connection.FrameReceived();
            var frame = ParseFrame(buffer);
            switch (frame?.Type)
            {
                case "next":
                    if (ToItem(frame.Id, frame.Payload) is { } item)
                    {
                        await _items.Writer.WriteAsync(item, _stop.Token).ConfigureAwait(false);
                    }

                    break;
                case "ping":
                    await connection.SendAsync(PongFrame, CancellationToken.None).ConfigureAwait(false);
                    break;
                case "pong":
                    PongReceived?.Invoke(Interlocked.Increment(ref _pongs));
                    break;
                case "error":
                {
                    var operation = OperationOf(frame.Id);
                    var message = ErrorMessages(frame.Payload);
                    if (message.Contains("Invalid API key", StringComparison.OrdinalIgnoreCase))
                    {
                        await connection.SendCloseAsync("invalid API key").ConfigureAwait(false);
                        return Outcome.Refused($"{operation}: {message}");
                    }

                    if (message.Contains("ThrottlerException", StringComparison.Ordinal))
                    {
                        Log.StreamSubscriptionThrottled(_logger, operation, message);
                    }
                    else
                    {
                        Log.StreamSubscriptionError(_logger, operation, message);
                    }

                    // The subscription is gone; start over on a fresh socket (Stigg's SDK re-initialises too).
                    await connection.SendCloseAsync("resubscribing").ConfigureAwait(false);
                    return Outcome.Failed($"subscription {operation} failed", acknowledged: true, Elapsed(connectedAt));
                }

                case "complete":
                    await connection.SendCloseAsync("resubscribing").ConfigureAwait(false);
                    return Outcome.Failed($"the server completed {OperationOf(frame.Id)}", acknowledged: true, Elapsed(connectedAt));
                default:
                    // connection_ack repeats, unknown types and unparseable frames: nothing to act on.
                    break;
            }
        }
    }

    private async Task KeepAliveAsync(Connection connection, CancellationToken ct)
    {
        try
        {
            using var timer = new PeriodicTimer(_options.WsPingInterval, _time);
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (connection.PingDue() > MaxUnansweredPings)
                {
                    connection.AbortSilent();
                    return;
                }

                await connection.SendAsync(PingFrame, ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            // The connection is ending; the read loop reports why.
        }
    }

    private async Task DispatchAsync()
    {
        try
        {
            await foreach (var item in _items.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    switch (item)
                    {
                        case ConnectedItem connected:
                            await _handlers.OnConnected(connected.IsReconnect).ConfigureAwait(false);
                            break;
                        case EntitlementsItem entitlements:
                            await _handlers.OnEntitlementsUpdated(entitlements.Key, entitlements.State).ConfigureAwait(false);
                            break;
                        case UsageItem usage:
                            await _handlers.OnUsageUpdated(usage.Key, usage.Update).ConfigureAwait(false);
                            break;
                        case PackageItem package:
                            await _handlers.OnPackagePublished(package.AllCustomers).ConfigureAwait(false);
                            break;
                    }
                }
                catch (Exception ex)
                {
                    Log.StreamHandlerFailed(_logger, ex, item.Name);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping: undelivered events are moot, the process is going away or restarting the stream.
        }
    }

    private StreamItem? ToItem(string? id, JsonElement? payload)
    {
        if (payload is not { ValueKind: JsonValueKind.Object } body)
        {
            Log.StreamEventIgnored(_logger, OperationOf(id), "no payload");
            return null;
        }

        try
        {
            return id switch
            {
                EntitlementsId => ToEntitlementsItem(body.Deserialize(UpstreamJsonContext.Default.GraphQlResponseEntitlementsUpdatedData)),
                UsageId => ToUsageItem(body.Deserialize(UpstreamJsonContext.Default.GraphQlResponseUsageUpdatedData)),
                PackagesId => ToPackageItem(body.Deserialize(UpstreamJsonContext.Default.GraphQlResponsePackagePublishedData)),
                _ => null,
            };
        }
        catch (JsonException ex)
        {
            Log.StreamEventIgnored(_logger, OperationOf(id), ex.Message);
            return null;
        }
    }

    private EntitlementsItem? ToEntitlementsItem(GraphQlResponse<EntitlementsUpdatedData>? response)
    {
        const string Operation = GraphQlDocuments.OnEntitlementsUpdatedV2Name;
        if (response?.Errors is { Count: > 0 } errors)
        {
            Log.StreamEventIgnored(_logger, Operation, errors[0].Message ?? "GraphQL error");
            return null;
        }

        if (response?.Data?.EntitlementsUpdatedV2 is not { CustomerId: { Length: > 0 } customerId } e)
        {
            Log.StreamEventIgnored(_logger, Operation, "no customerId");
            return null;
        }

        var state = new EntitlementsStateDto
        {
            AccessDeniedReason = e.AccessDeniedReason,
            EntitlementsV2 = e.Entitlements ?? [],
        };
        return new EntitlementsItem(new CustomerKey(customerId, NullIfEmpty(e.ResourceId)), state);
    }

    private UsageItem? ToUsageItem(GraphQlResponse<UsageUpdatedData>? response)
    {
        const string Operation = GraphQlDocuments.OnUsageUpdatedV2Name;
        if (response?.Errors is { Count: > 0 } errors)
        {
            Log.StreamEventIgnored(_logger, Operation, errors[0].Message ?? "GraphQL error");
            return null;
        }

        if (response?.Data?.UsageUpdatedV2 is not { CustomerId: { Length: > 0 } customerId } e
            || e.EntitlementReference is not { Id: { Length: > 0 } refId } reference
            || e.Usage is not { CurrentUsage: { } currentUsage } usage)
        {
            Log.StreamEventIgnored(_logger, Operation, "customerId, entitlementReference or usage.currentUsage missing");
            return null;
        }

        EntitlementRefType type;
        if (string.Equals(reference.Type, "FEATURE", StringComparison.OrdinalIgnoreCase))
        {
            type = EntitlementRefType.Feature;
        }
        else if (string.Equals(reference.Type, "CREDIT", StringComparison.OrdinalIgnoreCase))
        {
            type = EntitlementRefType.Credit;
        }
        else
        {
            Log.StreamEventIgnored(_logger, Operation, "unknown entitlementReference.type");
            return null;
        }

        var update = new UsageUpdate(
            type,
            refId,
            currentUsage,
            usage.UsagePeriodStart,
            usage.UsagePeriodEnd,
            usage.UsageUpdatedAt ?? _time.GetUtcNow().ToUnixTimeMilliseconds());
        return new UsageItem(new CustomerKey(customerId, NullIfEmpty(e.ResourceId)), update);
    }

    private PackageItem? ToPackageItem(GraphQlResponse<PackagePublishedData>? response)
    {
        if (response?.Data?.PackagePublished is not { } package)
        {
            Log.StreamEventIgnored(_logger, GraphQlDocuments.OnPackagePublishedName, response?.Errors is { Count: > 0 } e ? e[0].Message ?? "GraphQL error" : "no data");
            return null;
        }

        return new PackageItem(string.Equals(package.MigrationType, "ALL_CUSTOMERS", StringComparison.OrdinalIgnoreCase));
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string OperationOf(string? id) => id switch
    {
        EntitlementsId => GraphQlDocuments.OnEntitlementsUpdatedV2Name,
        UsageId => GraphQlDocuments.OnUsageUpdatedV2Name,
        PackagesId => GraphQlDocuments.OnPackagePublishedName,
        _ => id ?? "(no id)",
    };

    /// <summary>An <c>error</c> frame's payload is a list of GraphQL errors (or, from some servers, one error).</summary>
    private static string ErrorMessages(JsonElement? payload)
    {
        if (payload is not { } p)
        {
            return "no error payload";
        }

        static string? MessageOf(JsonElement e) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;

        if (p.ValueKind == JsonValueKind.Array)
        {
            var messages = new List<string>();
            foreach (var e in p.EnumerateArray())
            {
                if (MessageOf(e) is { } m)
                {
                    messages.Add(m);
                }
            }

            return messages.Count == 0 ? "error without a message" : string.Join("; ", messages);
        }

        return MessageOf(p) ?? "error without a message";
    }

    private static Outcome ClosedByServer(Connection connection, bool acknowledged, TimeSpan connectedFor)
    {
        var socket = connection.Socket;
        var code = socket.CloseStatus is { } status ? (int)status : 0;
        var description = socket.CloseStatusDescription ?? string.Empty;
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

    /// <summary>Reads one whole message into <paramref name="buffer"/>; false when the server closed the socket.</summary>
    private static async Task<bool> ReceiveFrameAsync(ClientWebSocket socket, ArrayBufferWriter<byte> buffer, CancellationToken ct)
    {
        buffer.ResetWrittenCount();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(8 * 1024), ct).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return false;
            }

            buffer.Advance(result.Count);
            if (buffer.WrittenCount > MaxFrameBytes)
            {
                throw new InvalidDataException($"a frame larger than {MaxFrameBytes} bytes");
            }

            if (result.EndOfMessage)
            {
                return true;
            }
        }
    }

    private WsMessage? ParseFrame(ArrayBufferWriter<byte> buffer)
    {
        try
        {
            return JsonSerializer.Deserialize(buffer.WrittenSpan, UpstreamJsonContext.Default.WsMessage);
        }
        catch (JsonException ex)
        {
            Log.StreamEventIgnored(_logger, "frame", ex.Message);
            return null;
        }
    }

    private readonly record struct Outcome(bool Acknowledged, bool InvalidApiKey, string Reason, TimeSpan ConnectedFor)
    {
        public static Outcome Refused(string reason) => new(false, true, reason, TimeSpan.Zero);

        public static Outcome Failed(string reason, bool acknowledged, TimeSpan connectedFor) => new(acknowledged, false, reason, connectedFor);
    }

    private abstract record StreamItem(string Name);

    private sealed record ConnectedItem(bool IsReconnect) : StreamItem(nameof(EventStreamHandlers.OnConnected));

    private sealed record EntitlementsItem(CustomerKey Key, EntitlementsStateDto State) : StreamItem(nameof(EventStreamHandlers.OnEntitlementsUpdated));

    private sealed record UsageItem(CustomerKey Key, UsageUpdate Update) : StreamItem(nameof(EventStreamHandlers.OnUsageUpdated));

    private sealed record PackageItem(bool AllCustomers) : StreamItem(nameof(EventStreamHandlers.OnPackagePublished));

    /// <summary>One socket: serialises sends (the BCL allows one at a time) and tracks keep-alive.</summary>
    private sealed class Connection(ClientWebSocket socket, TimeProvider time) : IDisposable
    {
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _unansweredPings;

        public ClientWebSocket Socket { get; } = socket;

        public bool DeadByKeepAlive { get; private set; }

        public async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct)
        {
            await _sendLock.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                await Socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, ct).ConfigureAwait(false);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public void FrameReceived() => Volatile.Write(ref _unansweredPings, 0);

        /// <summary>Counts a ping about to be sent; returns how many are now unanswered.</summary>
        public int PingDue() => Interlocked.Increment(ref _unansweredPings);

        public void AbortSilent()
        {
            DeadByKeepAlive = true;
            Socket.Abort();
        }

        /// <summary>The read loop is done with the socket.</summary>
        public void MarkFinished() => _finished.TrySetResult();

        /// <summary>Sends a normal-closure frame if the socket is still open; does not wait for the answer.</summary>
        public async Task SendCloseAsync(string reason)
        {
            try
            {
                using var timeout = new CancellationTokenSource(CloseTimeout, time);
                await _sendLock.WaitAsync(timeout.Token).ConfigureAwait(false);
                try
                {
                    if (Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    {
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, reason, timeout.Token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _sendLock.Release();
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
            {
                // Could not close politely; disposing the socket ends it anyway.
            }
        }

        /// <summary>
        /// Closes for shutdown: sends the closure, gives the server <see cref="CloseTimeout"/> to answer (the read loop
        /// sees its close frame and finishes), then aborts so a read waiting on a silent socket always ends.
        /// </summary>
        public async Task CloseGracefullyAsync(string reason)
        {
            await SendCloseAsync(reason).ConfigureAwait(false);
            try
            {
                await _finished.Task.WaitAsync(CloseTimeout, time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                try
                {
                    Socket.Abort();
                }
                catch (ObjectDisposedException)
                {
                    // Already gone.
                }
            }
        }

        public void Dispose()
        {
            MarkFinished();
            Socket.Dispose();
            _sendLock.Dispose();
        }
    }
}
