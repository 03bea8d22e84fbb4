using System.Text.Json;
using System.Threading.Channels;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

/// <summary>
/// Protocol corners the emulator never produces (a server that stops answering, server pings, an error frame
/// refusing the key), served by a scripted graphql-transport-ws server on a loopback socket.
/// </summary>
public sealed class EventStreamProtocolTests
{
    private readonly CapturingLogger _logger = new();

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
    public async Task Keepalive_ServerAnswersPings_ClientKeepsPingingOnOneSocket()
    {
        // Five answered pings on the first socket: more than the two unanswered ones after which the client would
        // abort, so this fails if pings are not sent or if pongs do not keep the connection alive.
        var fivePings = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            await socket.ExpectAsync("connection_init");
            await socket.SendAsync("""{"type":"connection_ack"}""");
            var pings = 0;
            while (await socket.ReceiveAsync() is { } frame)
            {
                using var json = JsonDocument.Parse(frame);
                if (json.RootElement.GetProperty("type").GetString() == "ping")
                {
                    await socket.SendAsync("""{"type":"pong"}""");
                    if (++pings == 5 && number == 1)
                    {
                        fivePings.TrySetResult();
                    }
                }
            }
        });
        await using var stream = new EventStream(
            Options(server.Url) with { WsPingInterval = TimeSpan.FromMilliseconds(100) }, new EventStreamHandlers(), _logger);

        await stream.StartAsync(CancellationToken.None);

        await fivePings.Task.Within();
        Assert.Equal(1, stream.ConnectionCount);
        Assert.Equal(EventStreamState.Connected, stream.State);
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
}
