using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Upstream.Internal;

namespace Sidecar.Upstream;

/// <summary>
/// One client socket of the graphql-transport-ws protocol (the graphql-ws library's) over
/// <see cref="ClientWebSocket"/>: the handshake (<c>connection_init</c> → <c>connection_ack</c>),
/// <c>subscribe</c>/<c>complete</c>, <c>ping</c>/<c>pong</c> with a keep-alive, and whole-message framing. A connection
/// is used once; reconnecting is the caller's business (<see cref="EventStream"/> does it for Stigg).
/// </summary>
/// <remarks>
/// Sends may come from any task (they are serialised: the BCL allows one at a time); <see cref="ReceiveAsync"/> has
/// one caller at a time.
/// </remarks>
public sealed class GraphQlWsConnection : IDisposable
{
    /// <summary>The WebSocket sub-protocol name.</summary>
    public const string SubProtocol = "graphql-transport-ws";

    private const int MaxFrameBytes = 32 * 1024 * 1024;

    /// <summary>A ping whose connection sent nothing back by the time this many more were due marks it dead.</summary>
    private const int MaxUnansweredPings = 2;

    private static readonly byte[] PingFrame = """{"type":"ping"}"""u8.ToArray();
    private static readonly byte[] PongFrame = """{"type":"pong"}"""u8.ToArray();
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly ClientWebSocket _socket = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ArrayBufferWriter<byte> _buffer = new(16 * 1024);
    private int _unansweredPings;
    private volatile bool _abortedByKeepAlive;

    /// <param name="timeProvider">Clock for the keep-alive and close timeouts.</param>
    /// <param name="logger">Where unparseable frames are reported (they are skipped).</param>
    public GraphQlWsConnection(TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _socket.Options.AddSubProtocol(SubProtocol);

        // Lets a caller tell a refused key (401/403 on the upgrade) from other failures.
        _socket.Options.CollectHttpResponseDetails = true;
    }

    public WebSocketState State => _socket.State;

    /// <summary>The HTTP status of the upgrade response (101 once connected; 0 before any response).</summary>
    public HttpStatusCode UpgradeStatusCode => _socket.HttpStatusCode;

    /// <summary>The server's close code, once it closed.</summary>
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    /// <summary>The server's close reason, once it closed.</summary>
    public string? CloseStatusDescription => _socket.CloseStatusDescription;

    /// <summary>True when <see cref="KeepAliveAsync"/> aborted the socket because the server went silent.</summary>
    public bool AbortedByKeepAlive => _abortedByKeepAlive;

    /// <summary>
    /// Opens the socket and runs the handshake: sends <c>connection_init</c> with the payload
    /// <c>{"headers": initHeaders}</c> (Stigg's convention), then waits for <c>connection_ack</c>, answering the server's
    /// pings meanwhile.
    /// </summary>
    /// <returns>True once acknowledged; false when the server closed the socket first (see <see cref="CloseStatus"/>).</returns>
    /// <exception cref="WebSocketException">The upgrade or the socket failed; <see cref="UpgradeStatusCode"/> tells a refusal.</exception>
    public async Task<bool> ConnectAsync(Uri uri, IEnumerable<KeyValuePair<string, string>> initHeaders, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(initHeaders);
        await _socket.ConnectAsync(uri, ct).ConfigureAwait(false);
        await SendAsync(GraphQlRequestWriter.ConnectionInit(initHeaders), ct).ConfigureAwait(false);
        while (await ReceiveAsync(ct).ConfigureAwait(false) is { } message)
        {
            // Nothing but the ack is legal before it; graphql-ws servers do not send anything else.
            if (message.Type == "connection_ack")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Starts subscription <paramref name="id"/>; its results arrive as <c>next</c> messages with that id.</summary>
    public Task SubscribeAsync(string id, string operationName, string query, CancellationToken ct) =>
        SendAsync(GraphQlRequestWriter.Subscribe(id, operationName, query), ct);

    /// <summary>Ends subscription <paramref name="id"/> from the client's side.</summary>
    public Task CompleteAsync(string id, CancellationToken ct) => SendAsync(GraphQlRequestWriter.Complete(id), ct);

    /// <summary>
    /// The next message other than <c>ping</c>/<c>pong</c>, or null once the server closed the socket (the close
    /// handshake is completed). Pings are answered; unparseable frames are logged and skipped.
    /// </summary>
    /// <remarks>
    /// Cancelling <paramref name="ct"/> aborts the socket (a <see cref="ClientWebSocket"/> rule): to end a read
    /// politely, call <see cref="CloseGracefullyAsync"/> from elsewhere instead.
    /// </remarks>
    public async Task<GraphQlWsMessage?> ReceiveAsync(CancellationToken ct)
    {
        try
        {
            while (await ReceiveFrameAsync(ct).ConfigureAwait(false))
            {
                // Any frame proves the connection alive, not just a pong (a busy stream may queue pongs behind events).
                Volatile.Write(ref _unansweredPings, 0);
                if (ParseFrame() is not { Type: { } type } frame || type == "pong")
                {
                    continue;
                }

                if (type == "ping")
                {
                    await SendAsync(PongFrame, ct).ConfigureAwait(false);
                    continue;
                }

                return new GraphQlWsMessage(type, frame.Id, frame.Payload);
            }
        }
        catch
        {
            // A failed read leaves the socket unusable: nobody is reading any more.
            _finished.TrySetResult();
            throw;
        }

        _finished.TrySetResult();
        if (_socket.State == WebSocketState.CloseReceived)
        {
            // Complete the close handshake the server started.
            await CloseOutputAsync("closing").ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>
    /// Sends a <c>ping</c> every <paramref name="interval"/> until <paramref name="ct"/> is cancelled or the socket ends.
    /// When two pings in a row pass with no frame at all from the server, aborts the socket (a pending
    /// <see cref="ReceiveAsync"/> then fails) and sets <see cref="AbortedByKeepAlive"/>. Never throws.
    /// </summary>
    public async Task KeepAliveAsync(TimeSpan interval, CancellationToken ct)
    {
        try
        {
            using var timer = new PeriodicTimer(interval, _time);
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (Interlocked.Increment(ref _unansweredPings) > MaxUnansweredPings)
                {
                    _abortedByKeepAlive = true;
                    _socket.Abort();
                    return;
                }

                await SendAsync(PingFrame, ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            // The connection is ending; the reader learns why.
        }
    }

    /// <summary>Sends a normal-closure frame if the socket is still open; does not wait for the answer. Never throws.</summary>
    public async Task CloseOutputAsync(string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(CloseTimeout, _time);
            await _sendLock.WaitAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, reason, timeout.Token).ConfigureAwait(false);
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
    /// Closes for shutdown while a reader waits: sends the closure, gives the server two seconds to answer (the reader
    /// sees its close frame and gets null), then aborts so a read waiting on a silent socket always ends. Never throws.
    /// </summary>
    public async Task CloseGracefullyAsync(string reason)
    {
        await CloseOutputAsync(reason).ConfigureAwait(false);
        try
        {
            await _finished.Task.WaitAsync(CloseTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            try
            {
                _socket.Abort();
            }
            catch (ObjectDisposedException)
            {
                // Already gone.
            }
        }
    }

    public void Dispose()
    {
        _finished.TrySetResult();
        _socket.Dispose();
        _sendLock.Dispose();
    }

    private async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct)
    {
        await _sendLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, ct).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Reads one whole message into the buffer; false when the server closed the socket.</summary>
    private async Task<bool> ReceiveFrameAsync(CancellationToken ct)
    {
        _buffer.ResetWrittenCount();
        while (true)
        {
            var result = await _socket.ReceiveAsync(_buffer.GetMemory(8 * 1024), ct).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return false;
            }

            _buffer.Advance(result.Count);
            if (_buffer.WrittenCount > MaxFrameBytes)
            {
                throw new InvalidDataException($"a frame larger than {MaxFrameBytes} bytes");
            }

            if (result.EndOfMessage)
            {
                return true;
            }
        }
    }

    private WsMessage? ParseFrame()
    {
        try
        {
            return JsonSerializer.Deserialize(_buffer.WrittenSpan, UpstreamJsonContext.Default.WsMessage);
        }
        catch (JsonException ex)
        {
            Log.StreamEventIgnored(_logger, "frame", ex.Message);
            return null;
        }
    }
}
