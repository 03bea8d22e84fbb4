using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// One graphql-transport-ws socket (the protocol graphql-ws v5 speaks, stigg-behaviour §3.1): connection_init with
/// the API key in <c>payload.headers</c>, connection_ack, subscribe / next / error / complete, ping / pong, and the
/// protocol's close codes. All sends go through one queue so frames never interleave; a reader that falls too far
/// behind is cut off rather than buffered without bound.
/// </summary>
internal sealed class WsConnection : IDisposable
{
    public const string SubProtocol = "graphql-transport-ws";

    private const int MaxMessageBytes = 1 << 20;
    private const int OutboxCapacity = 10_000;
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);
    private static readonly byte[] AckMessage = """{"type":"connection_ack"}"""u8.ToArray();
    private static readonly byte[] PongMessage = """{"type":"pong"}"""u8.ToArray();

    private readonly WebSocket _socket;
    private readonly string _apiKey;
    private readonly CounterSet _counters;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Outgoing> _outbox;
    private readonly CancellationTokenSource _abort;
    private readonly Lock _subscriptionsGate = new();
    private readonly Dictionary<string, SubscriptionKind> _subscriptions = new(StringComparer.Ordinal);
    private readonly TimeSpan _initTimeout;
    private int _closing;
    private bool _initReceived;
    private volatile bool _acknowledged;

    public WsConnection(WebSocket socket, string apiKey, CounterSet counters, ILogger logger, TimeProvider time, TimeSpan initTimeout, CancellationToken stopping)
    {
        _socket = socket;
        _apiKey = apiKey;
        _counters = counters;
        _logger = logger;
        _time = time;
        _initTimeout = initTimeout;
        _outbox = Channel.CreateBounded<Outgoing>(new BoundedChannelOptions(OutboxCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _abort = CancellationTokenSource.CreateLinkedTokenSource(stopping);
    }

    /// <summary>Serves the socket until it closes; never throws for network trouble.</summary>
    public async Task RunAsync()
    {
        using var initTimer = _time.CreateTimer(
            static state =>
            {
                var self = (WsConnection)state!;
                if (!self._acknowledged)
                {
                    self.Close(4408, "Connection initialisation timeout");
                }
            },
            this,
            _initTimeout,
            Timeout.InfiniteTimeSpan);

        var sending = SendLoopAsync();
        try
        {
            await ReceiveLoopAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer vanished or the socket was aborted: nothing to answer.
            _socket.Abort();
        }
        finally
        {
            _outbox.Writer.TryComplete();
            await sending.ConfigureAwait(false);
            ClearSubscriptions();
        }
    }

    /// <summary>Queues <c>next</c> messages for every subscription of <paramref name="kind"/>.</summary>
    public void Deliver(SubscriptionKind kind, byte[] data)
    {
        if (!_acknowledged || Volatile.Read(ref _closing) != 0)
        {
            return;
        }

        lock (_subscriptionsGate)
        {
            foreach (var (id, subscribed) in _subscriptions)
            {
                if (subscribed == kind && !Enqueue(Outgoing.Text(NextMessage(id, data))))
                {
                    return;
                }
            }
        }
    }

    public void Abort()
    {
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished.
        }

        _socket.Abort();
    }

    public void Dispose() => _abort.Dispose();

    private async Task ReceiveLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var message = new ArrayBufferWriter<byte>(1024);
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer.AsMemory(), _abort.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // Answer the peer's close (or finish our own handshake) and stop reading.
                    var status = _socket.CloseStatus is { } s && s != WebSocketCloseStatus.Empty ? (int)s : (int)WebSocketCloseStatus.NormalClosure;
                    Close(status, null);
                    return;
                }

                if (message.WrittenCount + result.Count > MaxMessageBytes)
                {
                    Close((int)WebSocketCloseStatus.MessageTooBig, "Message too large");
                    continue;
                }

                message.Write(buffer.AsSpan(0, result.Count));
                if (!result.EndOfMessage)
                {
                    continue;
                }

                if (Volatile.Read(ref _closing) == 0)
                {
                    if (result.MessageType == WebSocketMessageType.Text)
                    {
                        Handle(message.WrittenMemory);
                    }
                    else
                    {
                        Close(4400, "Invalid message received");
                    }
                }

                message.ResetWrittenCount();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task SendLoopAsync()
    {
        try
        {
            await foreach (var item in _outbox.Reader.ReadAllAsync(_abort.Token).ConfigureAwait(false))
            {
                if (item.Payload is { } payload)
                {
                    await _socket.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: true, _abort.Token).ConfigureAwait(false);
                    continue;
                }

                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync((WebSocketCloseStatus)item.CloseCode, item.CloseReason, _abort.Token).ConfigureAwait(false);
                }

                // The peer now owes us its close frame; do not wait for it forever.
                _abort.CancelAfter(CloseHandshakeTimeout);
                return;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            _socket.Abort();
        }
    }

    private void Handle(ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            Close(4400, "Invalid message received");
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("type", out var typeElement)
                || typeElement.ValueKind != JsonValueKind.String)
            {
                Close(4400, "Invalid message received");
                return;
            }

            switch (typeElement.GetString())
            {
                case "connection_init":
                    OnInit(root);
                    break;
                case "ping":
                    Send(root.TryGetProperty("payload", out var pingPayload) && pingPayload.ValueKind == JsonValueKind.Object
                        ? Wire.Build(pingPayload, static (w, p) =>
                        {
                            w.WriteStartObject();
                            w.WriteString("type", "pong");
                            w.WritePropertyName("payload");
                            p.WriteTo(w);
                            w.WriteEndObject();
                        })
                        : PongMessage);
                    break;
                case "pong":
                    break;
                case "subscribe":
                    OnSubscribe(root);
                    break;
                case "complete":
                    OnComplete(root);
                    break;
                default:
                    Close(4400, "Invalid message received");
                    break;
            }
        }
    }

    private void OnInit(JsonElement message)
    {
        if (_initReceived)
        {
            Close(4429, "Too many initialisation requests");
            return;
        }

        _initReceived = true;
        if (!message.TryGetProperty("payload", out var payload) || !HasApiKey(payload, _apiKey))
        {
            // Stigg's SDK gives up for good on this exact reason (stigg-behaviour §3.5).
            _counters.AuthFailure();
            Close(4403, "Invalid API key");
            return;
        }

        _acknowledged = true;
        Send(AckMessage);
    }

    private static bool HasApiKey(JsonElement payload, string apiKey)
    {
        if (payload.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        // graphql-ws clients put headers in payload.headers (Stigg's SDK); some put them in the payload itself.
        if (payload.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Object && MatchesKey(headers, apiKey))
        {
            return true;
        }

        return MatchesKey(payload, apiKey);
    }

    private static bool MatchesKey(JsonElement headers, string apiKey)
    {
        foreach (var property in headers.EnumerateObject())
        {
            if (property.Name.Equals("x-api-key", StringComparison.OrdinalIgnoreCase)
                && property.Value.ValueKind == JsonValueKind.String)
            {
                return string.Equals(property.Value.GetString(), apiKey, StringComparison.Ordinal);
            }
        }

        return false;
    }

    private void OnSubscribe(JsonElement message)
    {
        if (!_acknowledged)
        {
            Close(4401, "Unauthorized");
            return;
        }

        if (!message.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String
            || idElement.GetString() is not { Length: > 0 } id
            || !message.TryGetProperty("payload", out var payload) || payload.ValueKind != JsonValueKind.Object
            || !payload.TryGetProperty("query", out var queryElement) || queryElement.ValueKind != JsonValueKind.String)
        {
            Close(4400, "Invalid message received");
            return;
        }

        var operationName = payload.TryGetProperty("operationName", out var op) && op.ValueKind == JsonValueKind.String ? op.GetString() : null;
        var kind = GraphQlDocument.ResolveSubscription(operationName, queryElement.GetString()!);

        lock (_subscriptionsGate)
        {
            if (_subscriptions.ContainsKey(id))
            {
                Close(4409, Truncate($"Subscriber for {id} already exists"));
                return;
            }

            if (kind is not { } k)
            {
                // A validation failure: an error message ends this operation only, the socket stays up.
                Send(Wire.Build((id, operationName), static (w, s) =>
                {
                    w.WriteStartObject();
                    w.WriteString("id", s.id);
                    w.WriteString("type", "error");
                    w.WritePropertyName("payload");
                    w.WriteStartArray();
                    w.WriteStartObject();
                    w.WriteString("message", $"Unsupported subscription '{s.operationName ?? "anonymous"}': expected OnEntitlementsUpdatedV2, OnUsageUpdatedV2 or OnPackagePublished.");
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteEndObject();
                }));
                return;
            }

            _subscriptions.Add(id, k);
        }

        _counters.WsSubscribersChanged(1);
        Log.Subscribed(_logger, id, kind.Value.ToString());
    }

    private void OnComplete(JsonElement message)
    {
        if (!message.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String)
        {
            Close(4400, "Invalid message received");
            return;
        }

        bool removed;
        lock (_subscriptionsGate)
        {
            removed = _subscriptions.Remove(idElement.GetString()!);
        }

        if (removed)
        {
            _counters.WsSubscribersChanged(-1);
        }
    }

    private void ClearSubscriptions()
    {
        int count;
        lock (_subscriptionsGate)
        {
            count = _subscriptions.Count;
            _subscriptions.Clear();
        }

        if (count > 0)
        {
            _counters.WsSubscribersChanged(-count);
        }
    }

    private void Send(byte[] payload)
    {
        if (Volatile.Read(ref _closing) == 0)
        {
            Enqueue(Outgoing.Text(payload));
        }
    }

    private bool Enqueue(Outgoing item)
    {
        if (_outbox.Writer.TryWrite(item))
        {
            return true;
        }

        // Full (a closed queue means a close is under way, which is fine): a consumer this far behind would only
        // be fed stale events, so cut it off; it reconnects and starts fresh.
        if (Volatile.Read(ref _closing) == 0)
        {
            Log.SlowConsumer(_logger);
            Abort();
        }

        return false;
    }

    /// <summary>Queues the close frame once; nothing is sent after it.</summary>
    public void Close(int code, string? reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        Log.Closing(_logger, code, reason ?? string.Empty);
        if (!_outbox.Writer.TryWrite(Outgoing.Close(code, reason)))
        {
            // No room for the close frame: drop the connection instead.
            Abort();
        }

        _outbox.Writer.TryComplete();
    }

    private static byte[] NextMessage(string id, byte[] data) =>
        Wire.Build((id, data), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString("id", s.id);
            w.WriteString("type", "next");
            w.WritePropertyName("payload");
            w.WriteStartObject();
            w.WritePropertyName("data");
            w.WriteRawValue(s.data, skipInputValidation: true);
            w.WriteEndObject();
            w.WriteEndObject();
        });

    // A close reason is at most 123 UTF-8 bytes (RFC 6455 §5.5).
    private static string Truncate(string reason) => reason.Length <= 100 ? reason : reason[..100];

    private readonly record struct Outgoing(byte[]? Payload, int CloseCode, string? CloseReason)
    {
        public static Outgoing Text(byte[] payload) => new(payload, 0, null);

        public static Outgoing Close(int code, string? reason) => new(null, code, reason);
    }
}
