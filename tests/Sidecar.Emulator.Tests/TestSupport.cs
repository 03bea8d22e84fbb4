using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Sidecar.Testing;

namespace Sidecar.Emulator.Tests;

/// <summary>Starts a fresh emulator on a free loopback port for every test, loaded with samples/entitlements.json.</summary>
public abstract class EmulatorTest : IAsyncLifetime
{
    public const string Key = "test-key";
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private EmulatorServer? _server;
    private HttpClient? _http;

    protected EmulatorServer Server => _server ?? throw new InvalidOperationException("Not started.");

    protected HttpClient Http => _http ?? throw new InvalidOperationException("Not started.");

    /// <summary>The emulator's date, moved by hand; its timers (latency, init timeout) stay real.</summary>
    internal FakeWallClock Clock { get; } = Clocks.WallAtSampleNow();

    protected virtual EmulatorOptions Options => EmulatorFixture.SampleOptions(Key, Clock);

    public async Task InitializeAsync()
    {
        _server = await EmulatorServer.StartAsync(Options);
        _http = new HttpClient { BaseAddress = _server.BaseUrl, Timeout = Patience };
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    protected static CancellationToken Timeout() => new CancellationTokenSource(Patience).Token;

    protected Task<HttpResponseMessage> EdgeAsync(string pathAndQuery, string? apiKey = Key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        if (apiKey is not null)
        {
            request.Headers.Add("X-API-KEY", apiKey);
        }

        request.Headers.Add("X-API-VERSION", "1");
        return Http.SendAsync(request);
    }

    protected async Task<JsonElement> EdgeStateAsync(string customerId, string? resourceId = null)
    {
        var path = $"/v1/c/{Uri.EscapeDataString(customerId)}/entitlements-state.json";
        if (resourceId is not null)
        {
            path += "?resourceId=" + Uri.EscapeDataString(resourceId);
        }

        using var response = await EdgeAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonAsync(response);
    }

    protected Task<HttpResponseMessage> GraphQlRawAsync(string body, string? apiKey = Key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/graphql")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (apiKey is not null)
        {
            request.Headers.Add("x-api-key", apiKey);
        }

        return Http.SendAsync(request);
    }

    protected static string GraphQlBody(string? operationName, string query, string variablesJson) =>
        "{\"operationName\":" + (operationName is null ? "null" : JsonSerializer.Serialize(operationName))
        + ",\"query\":" + JsonSerializer.Serialize(query)
        + ",\"variables\":" + variablesJson + "}";

    /// <summary>Posts an operation and returns the parsed body (asserting HTTP 200).</summary>
    protected async Task<JsonElement> GraphQlAsync(string? operationName, string query, string variablesJson = "{}")
    {
        using var response = await GraphQlRawAsync(GraphQlBody(operationName, query, variablesJson));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonAsync(response);
    }

    protected const string ReportUsageMutation =
        "mutation ReportUsage($input: ReportUsageInput!) { reportUsage(input: $input) { id featureId customerId resourceId currentUsage usagePeriodStart usagePeriodEnd nextResetDate timestamp credit { currencyId currentUsage timestamp usagePeriodEnd } } }";

    protected async Task<JsonElement> ReportUsageAsync(string inputJson)
    {
        var result = await GraphQlAsync(
            "ReportUsage",
            ReportUsageMutation,
            $$"""{"input":{{inputJson}}}""");
        return result;
    }

    protected async Task<HttpResponseMessage> AdminAsync(HttpMethod method, string path, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return await Http.SendAsync(request);
    }

    protected static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    protected static JsonElement FeatureIn(JsonElement entitlementsV2, string featureId) =>
        entitlementsV2.EnumerateArray().Single(e =>
            e.GetProperty("__typename").GetString() == "FeatureEntitlement"
            && e.GetProperty("feature").GetProperty("refId").GetString() == featureId);

    protected static JsonElement CreditIn(JsonElement entitlementsV2, string currencyId) =>
        entitlementsV2.EnumerateArray().Single(e =>
            e.GetProperty("__typename").GetString() == "CreditEntitlement"
            && e.GetProperty("currency").GetProperty("currencyId").GetString() == currencyId);

    protected async Task<GraphQlSocket> ConnectAsync(bool init = true, string? apiKey = Key, string? subProtocol = "graphql-transport-ws")
    {
        var socket = await GraphQlSocket.ConnectAsync(new Uri(Server.WsUrl, "/graphql"), subProtocol);
        if (init)
        {
            await socket.SendAsync($$$$"""{"type":"connection_init","payload":{"headers":{"X-API-KEY":{{{{JsonSerializer.Serialize(apiKey)}}}},"source":"NODE_SERVER_SDK"}}}""");
        }

        if (init && apiKey == Key)
        {
            var ack = await socket.ReceiveAsync();
            Assert.Equal("connection_ack", ack.GetProperty("type").GetString());
        }

        return socket;
    }
}

/// <summary>A minimal graphql-transport-ws client over ClientWebSocket, for asserting the wire.</summary>
public sealed class GraphQlSocket : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly ClientWebSocket _socket;

    private GraphQlSocket(ClientWebSocket socket) => _socket = socket;

    public WebSocketState State => _socket.State;

    public string? SubProtocol => _socket.SubProtocol;

    public static async Task<GraphQlSocket> ConnectAsync(Uri uri, string? subProtocol)
    {
        var socket = new ClientWebSocket();
        if (subProtocol is not null)
        {
            socket.Options.AddSubProtocol(subProtocol);
        }

        using var cts = new CancellationTokenSource(Patience);
        try
        {
            await socket.ConnectAsync(uri, cts.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new GraphQlSocket(socket);
    }

    public Task SendAsync(string json) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, endOfMessage: true, new CancellationTokenSource(Patience).Token);

    public Task SubscribeAsync(string id, string operationName, string query) =>
        SendAsync($$$$"""{"id":"{{{{id}}}}","type":"subscribe","payload":{"operationName":"{{{{operationName}}}}","query":{{{{JsonSerializer.Serialize(query)}}}},"variables":{},"extensions":{}}}""");

    /// <summary>The next text message; fails if the socket closes first.</summary>
    public async Task<JsonElement> ReceiveAsync()
    {
        var (message, close) = await ReceiveOrCloseAsync();
        Assert.True(message.HasValue, $"Expected a message, got close {close}");
        return message.Value;
    }

    /// <summary>Waits for the server's close frame, returning its code and reason (messages before it are skipped).</summary>
    public async Task<(int Code, string? Reason)> ReceiveCloseAsync()
    {
        while (true)
        {
            var (message, close) = await ReceiveOrCloseAsync();
            if (!message.HasValue)
            {
                return close!.Value;
            }
        }
    }

    private async Task<(JsonElement? Message, (int Code, string? Reason)? Close)> ReceiveOrCloseAsync()
    {
        using var cts = new CancellationTokenSource(Patience);
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                if (_socket.State == WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
                }

                return (null, ((int)result.CloseStatus!.Value, result.CloseStatusDescription));
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                using var document = JsonDocument.Parse(message.ToArray());
                return (document.RootElement.Clone(), null);
            }
        }
    }

    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(Patience);
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
