using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Sidecar.Upstream.Tests;

/// <summary>
/// Protocol corners the emulator never produces (a server that stops answering, server pings, an error frame
/// refusing the key), served by a scripted graphql-transport-ws server on a loopback socket.
/// </summary>
public sealed class EventStreamProtocolTests
{
    private readonly ListLogger _logger = new();

    [Fact]
    public async Task SilentServer_PingsUnanswered_ClientAbortsAndReconnects()
    {
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            await socket.ExpectAsync("connection_init");
            await socket.SendAsync("""{"type":"connection_ack"}""");

            // Read (and ignore) everything, answer nothing: a half-open upstream as far as the client can tell.
            while (await socket.ReceiveAsync() is not null)
            {
            }
        });
        var connected = Channel.CreateUnbounded<bool>();
        await using var stream = new EventStream(
            Options(server.Url) with { WsPingInterval = TimeSpan.FromMilliseconds(100) },
            new EventStreamHandlers { OnConnected = r => { connected.Writer.TryWrite(r); return default; } },
            _logger);

        await stream.StartAsync(CancellationToken.None);

        Assert.False(await connected.Reader.ReadAsync().AsTask().Within());
        Assert.True(await connected.Reader.ReadAsync().AsTask().Within());
        Assert.True(_logger.Contains("no answer to pings"));
    }

    [Fact]
    public async Task ServerPing_IsAnsweredWithPong()
    {
        var pong = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            await socket.ExpectAsync("connection_init");
            await socket.SendAsync("""{"type":"connection_ack"}""");
            await socket.SendAsync("""{"type":"ping"}""");
            while (await socket.ReceiveAsync() is { } frame)
            {
                if (frame.Contains("\"pong\"", StringComparison.Ordinal))
                {
                    pong.TrySetResult(frame);
                }
            }
        });
        await using var stream = new EventStream(Options(server.Url), new EventStreamHandlers(), _logger);

        await stream.StartAsync(CancellationToken.None);

        Assert.Equal("pong", JsonDocument.Parse(await pong.Task.Within()).RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Subscribe_SendsTheThreeV2DocumentsAfterTheAck()
    {
        var frames = Channel.CreateUnbounded<string>();
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            frames.Writer.TryWrite(await socket.ReceiveAsync() ?? string.Empty);
            await socket.SendAsync("""{"type":"connection_ack"}""");
            while (await socket.ReceiveAsync() is { } frame)
            {
                frames.Writer.TryWrite(frame);
            }
        });
        await using var stream = new EventStream(Options(server.Url), new EventStreamHandlers(), _logger);

        await stream.StartAsync(CancellationToken.None);

        using var init = JsonDocument.Parse(await frames.Reader.ReadAsync().AsTask().Within());
        Assert.Equal("connection_init", init.RootElement.GetProperty("type").GetString());
        var headers = init.RootElement.GetProperty("payload").GetProperty("headers");
        Assert.Equal("scripted-key", headers.GetProperty("X-API-KEY").GetString());
        Assert.False(headers.TryGetProperty("X-API-VERSION", out _));
        var operations = new List<string>();
        while (operations.Count < 3)
        {
            using var frame = JsonDocument.Parse(await frames.Reader.ReadAsync().AsTask().Within());
            if (frame.RootElement.GetProperty("type").GetString() == "subscribe")
            {
                var payload = frame.RootElement.GetProperty("payload");
                var name = payload.GetProperty("operationName").GetString()!;
                Assert.Contains($"subscription {name}", payload.GetProperty("query").GetString(), StringComparison.Ordinal);
                operations.Add(name);
            }
        }

        Assert.Equal(["OnEntitlementsUpdatedV2", "OnPackagePublished", "OnUsageUpdatedV2"], operations.Order());
    }

    [Fact]
    public async Task ErrorFrameWithInvalidApiKey_StopsForGood()
    {
        var connections = 0;
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            Interlocked.Increment(ref connections);
            await socket.ExpectAsync("connection_init");
            await socket.SendAsync("""{"type":"connection_ack"}""");
            await socket.SendAsync("""{"id":"entitlements","type":"error","payload":[{"message":"Invalid API key"}]}""");
            while (await socket.ReceiveAsync() is not null)
            {
            }
        });
        await using var stream = new EventStream(Options(server.Url), new EventStreamHandlers(), _logger);

        await stream.StartAsync(CancellationToken.None);
        await stream.Completion.Within();

        Assert.Equal(EventStreamState.InvalidApiKey, stream.State);
        Assert.Equal(1, Volatile.Read(ref connections));
    }

    [Fact]
    public async Task OtherSubscriptionError_Reconnects()
    {
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            await socket.ExpectAsync("connection_init");
            await socket.SendAsync("""{"type":"connection_ack"}""");
            if (number == 1)
            {
                await socket.SendAsync("""{"id":"usage","type":"error","payload":[{"message":"ThrottlerException: Too Many Requests"}]}""");
            }

            while (await socket.ReceiveAsync() is not null)
            {
            }
        });
        var connected = Channel.CreateUnbounded<bool>();
        await using var stream = new EventStream(
            Options(server.Url),
            new EventStreamHandlers { OnConnected = r => { connected.Writer.TryWrite(r); return default; } },
            _logger);

        await stream.StartAsync(CancellationToken.None);

        Assert.False(await connected.Reader.ReadAsync().AsTask().Within());
        Assert.True(await connected.Reader.ReadAsync().AsTask().Within());
        Assert.True(_logger.Contains("throttled"));
    }

    [Fact]
    public async Task MalformedAndUnknownFrames_AreIgnored()
    {
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            await socket.ExpectAsync("connection_init");
            await socket.SendAsync("""{"type":"connection_ack"}""");
            await socket.SendAsync("not json at all");
            await socket.SendAsync("""{"type":"something_new"}""");
            await socket.SendAsync("""{"id":"entitlements","type":"next","payload":{"data":{"entitlementsUpdatedV2":{"customerId":null}}}}""");
            await socket.SendAsync("""{"id":"packages","type":"next","payload":{"data":{"packagePublished":{"migrationType":"ALL_CUSTOMERS"}}}}""");
            while (await socket.ReceiveAsync() is not null)
            {
            }
        });
        var packages = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var stream = new EventStream(
            Options(server.Url),
            new EventStreamHandlers { OnPackagePublished = all => { packages.TrySetResult(all); return default; } },
            _logger);

        await stream.StartAsync(CancellationToken.None);

        Assert.True(await packages.Task.Within());
        Assert.Equal(1, stream.ConnectionCount);
        Assert.True(_logger.Contains("no customerId"));
    }

    private static UpstreamOptions Options(Uri url) => new()
    {
        ApiKey = "scripted-key",
        WsUrl = url,
        WsReconnectMin = TimeSpan.FromMilliseconds(20),
        WsReconnectMax = TimeSpan.FromMilliseconds(100),
        WsConnectTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>A text-frame view of a server-side WebSocket.</summary>
    private sealed class ServerSocket(WebSocket socket)
    {
        public Task SendAsync(string text) =>
            socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

        /// <summary>The next text frame, or null once the peer closed or vanished.</summary>
        public async Task<string?> ReceiveAsync()
        {
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        if (socket.State == WebSocketState.CloseReceived)
                        {
                            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                        }

                        return null;
                    }

                    message.Write(buffer, 0, result.Count);
                    if (result.EndOfMessage)
                    {
                        return Encoding.UTF8.GetString(message.ToArray());
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                return null;
            }
        }

        public async Task ExpectAsync(string type)
        {
            var frame = await ReceiveAsync() ?? throw new InvalidOperationException($"closed while waiting for {type}");
            using var json = JsonDocument.Parse(frame);
            Assert.Equal(type, json.RootElement.GetProperty("type").GetString());
        }
    }

    /// <summary>
    /// Accepts WebSocket upgrades on a loopback port (RFC 6455 handshake by hand, framing by the BCL) and runs
    /// <c>script(socket, connectionNumber)</c> for each.
    /// </summary>
    private sealed class ScriptedServer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly Func<ServerSocket, int, Task> _script;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<TcpClient> _clients = [];
        private readonly Task _accepting;
        private int _connections;

        private ScriptedServer(Func<ServerSocket, int, Task> script)
        {
            _script = script;
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Url = new Uri($"ws://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
            _accepting = AcceptAsync();
        }

        public Uri Url { get; }

        public static ScriptedServer Start(Func<ServerSocket, int, Task> script) => new(script);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            lock (_clients)
            {
                foreach (var client in _clients)
                {
                    client.Dispose();
                }
            }

            try
            {
                await _accepting;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // Stopped.
            }

            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                lock (_clients)
                {
                    _clients.Add(client);
                }

                var number = Interlocked.Increment(ref _connections);
                _ = Task.Run(() => ServeAsync(client, number));
            }
        }

        private async Task ServeAsync(TcpClient client, int number)
        {
            try
            {
                var stream = client.GetStream();
                var head = await ReadHeadAsync(stream);
                var key = head.Split("\r\n")
                    .Select(l => l.Split(':', 2))
                    .Single(p => p.Length == 2 && p[0].Trim().Equals("Sec-WebSocket-Key", StringComparison.OrdinalIgnoreCase))[1].Trim();

                // RFC 6455 mandates SHA-1 for the accept token; it proves nothing cryptographic.
#pragma warning disable CA5350
                var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
                var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + $"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
                using var socket = WebSocket.CreateFromStream(stream, isServer: true, "graphql-transport-ws", Timeout.InfiniteTimeSpan);
                await _script(new ServerSocket(socket), number);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or WebSocketException)
            {
                // The client went away mid-script.
            }
        }

        private static async Task<string> ReadHeadAsync(NetworkStream stream)
        {
            // Byte by byte: the client sends nothing after the head until it sees our 101.
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(one) == 0)
                {
                    throw new IOException("closed during the handshake");
                }

                head.Append((char)one[0]);
            }

            return head.ToString();
        }
    }
}
