using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Sidecar.Upstream.Tests;

/// <summary>A text-frame view of a server-side WebSocket.</summary>
internal sealed class ServerSocket(WebSocket socket)
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

    /// <summary>Starts the close handshake with <paramref name="code"/>; the client's answer ends the next receive.</summary>
    public Task CloseAsync(int code, string reason) =>
        socket.CloseOutputAsync((WebSocketCloseStatus)code, reason, CancellationToken.None);

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
internal sealed class ScriptedServer : IAsyncDisposable
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
