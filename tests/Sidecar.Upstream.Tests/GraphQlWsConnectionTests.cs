using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

/// <summary>The graphql-transport-ws connection on its own, against a scripted server: frames out, messages in.</summary>
public sealed class GraphQlWsConnectionTests
{
    [Fact]
    public async Task ConnectSubscribeComplete_SendsTheProtocolFramesInOrder()
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
        using var connection = new GraphQlWsConnection();

        Assert.True(await connection.ConnectAsync(server.Url, [new("X-API-KEY", "k-1")], CancellationToken.None).Within());
        await connection.SubscribeAsync("s1", "OnThing", "subscription OnThing { thing }", CancellationToken.None);
        await connection.CompleteAsync("s1", CancellationToken.None);

        using var init = await NextAsync(frames);
        Assert.Equal("connection_init", init.RootElement.GetProperty("type").GetString());
        Assert.Equal("k-1", init.RootElement.GetProperty("payload").GetProperty("headers").GetProperty("X-API-KEY").GetString());
        using var subscribe = await NextAsync(frames);
        Assert.Equal("subscribe", subscribe.RootElement.GetProperty("type").GetString());
        Assert.Equal("s1", subscribe.RootElement.GetProperty("id").GetString());
        Assert.Equal("OnThing", subscribe.RootElement.GetProperty("payload").GetProperty("operationName").GetString());
        using var complete = await NextAsync(frames);
        Assert.Equal("complete", complete.RootElement.GetProperty("type").GetString());
        Assert.Equal("s1", complete.RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Receive_PingPongAndGarbage_AnswersThePingAndReturnsOnlyTheNextMessage()
    {
        var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            await socket.ExpectAsync("connection_init");
            await socket.SendAsync("""{"type":"connection_ack"}""");
            await socket.SendAsync("""{"type":"ping"}""");
            await socket.SendAsync("""{"type":"pong"}""");
            await socket.SendAsync("not json");
            await socket.SendAsync("""{"id":"s1","type":"next","payload":{"data":{"n":1}}}""");
            while (await socket.ReceiveAsync() is { } frame)
            {
                if (frame.Contains("\"pong\"", StringComparison.Ordinal))
                {
                    pong.TrySetResult();
                }
            }
        });
        var logger = new CapturingLogger();
        using var connection = new GraphQlWsConnection(logger: logger);
        Assert.True(await connection.ConnectAsync(server.Url, [], CancellationToken.None).Within());

        var message = await connection.ReceiveAsync(CancellationToken.None).Within();

        Assert.NotNull(message);
        Assert.Equal("next", message.Value.Type);
        Assert.Equal("s1", message.Value.Id);
        Assert.Equal(1, message.Value.Payload!.Value.GetProperty("data").GetProperty("n").GetInt32());
        await pong.Task.Within();
        Assert.True(logger.Contains("unusable frame"));
    }

    [Fact]
    public async Task Connect_ServerClosesBeforeTheAck_ReturnsFalseWithTheCloseCode()
    {
        await using var server = ScriptedServer.Start(async (socket, number) =>
        {
            await socket.ExpectAsync("connection_init");
            await socket.CloseAsync(4403, "Forbidden");
            while (await socket.ReceiveAsync() is not null)
            {
            }
        });
        using var connection = new GraphQlWsConnection();

        Assert.False(await connection.ConnectAsync(server.Url, [], CancellationToken.None).Within());

        Assert.Equal((WebSocketCloseStatus)4403, connection.CloseStatus);
        Assert.Equal("Forbidden", connection.CloseStatusDescription);
    }

    [Theory]
    [InlineData("""[{"message":"a"},{"message":"b"}]""", "a; b")]
    [InlineData("""{"message":"only one"}""", "only one")]
    [InlineData("""[{"code":"X"}]""", "error without a message")]
    public void ErrorMessage_ListOrSingleError_JoinsTheMessages(string payload, string expected)
    {
        using var json = JsonDocument.Parse(payload);

        Assert.Equal(expected, new GraphQlWsMessage("error", "s1", json.RootElement).ErrorMessage());
    }

    private static async Task<JsonDocument> NextAsync(Channel<string> frames) =>
        JsonDocument.Parse(await frames.Reader.ReadAsync().AsTask().Within());
}
