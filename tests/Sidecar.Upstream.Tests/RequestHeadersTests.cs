using System.Net;
using System.Net.Sockets;
using System.Text;
using Sidecar.Core.Model;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

/// <summary>
/// The identification headers of §2.1, seen on the wire: the emulator does not expose request headers, so a tiny
/// HTTP/1.1 server on a loopback socket records the raw request.
/// </summary>
public sealed class RequestHeadersTests
{
    private const string StateBody = """{"data":{"entitlementsState":{"accessDeniedReason":null,"entitlementsV2":[]}}}""";

    [Fact]
    public async Task EdgeRequest_CarriesTheSdkHeadersAndApiVersion()
    {
        await using var server = RecordingServer.Start(StateBody);
        using var client = new StiggApiClient(Options(server.Url), new CapturingLogger());

        await client.FetchEntitlementsAsync(new CustomerKey("acme", "ws 1"), skipEdge: false, CancellationToken.None);

        var request = await server.Request.Within();
        Assert.Equal("GET /v1/c/acme/entitlements-state.json?resourceId=ws%201 HTTP/1.1", request.RequestLine);
        AssertCommonHeaders(request.Headers);
        Assert.Equal("1", request.Headers["x-api-version"]);
        Assert.False(request.Headers.ContainsKey("x-graphql-operation-name"));
    }

    [Fact]
    public async Task GraphQlRequest_CarriesTheOperationNameButNoApiVersion()
    {
        await using var server = RecordingServer.Start(StateBody);
        using var client = new StiggApiClient(Options(server.Url) with { EdgeEnabled = false }, new CapturingLogger());

        await client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None);

        var request = await server.Request.Within();
        Assert.Equal("POST /graphql HTTP/1.1", request.RequestLine);
        AssertCommonHeaders(request.Headers);
        Assert.Equal("GetEntitlementsState", request.Headers["x-graphql-operation-name"]);
        Assert.False(request.Headers.ContainsKey("x-api-version"));
        Assert.StartsWith("application/json", request.Headers["content-type"], StringComparison.Ordinal);
        Assert.Contains("\"operationName\":\"GetEntitlementsState\"", request.Body, StringComparison.Ordinal);
        Assert.Contains("query GetEntitlementsState($query: FetchEntitlementsQuery!)", request.Body, StringComparison.Ordinal);
        Assert.Contains("\"variables\":{\"query\":{\"customerId\":\"acme\"}}", request.Body, StringComparison.Ordinal);
    }

    private static void AssertCommonHeaders(IReadOnlyDictionary<string, string> headers)
    {
        Assert.Equal("header-test-key", headers["x-api-key"]);
        Assert.Equal("NODE_SERVER_SDK", headers["source"]);
        Assert.Equal(21, headers["x-sdk-instance-id"].Length);
        Assert.False(string.IsNullOrEmpty(headers["x-sdk-os-process-hostname"]));
        Assert.Equal(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), headers["x-sdk-os-process-id"]);
        Assert.True(long.TryParse(headers["x-sdk-os-process-timestamp"], out _));
        Assert.Matches("^[0-9a-f]{32}$", headers["x-sdk-os-process-fingerprint"]);
    }

    private static UpstreamOptions Options(Uri url) => new()
    {
        ApiKey = "header-test-key",
        ApiUrl = url,
        EdgeApiUrl = url,
        EntitlementsTimeout = TimeSpan.FromSeconds(5),
        MaxRetries = 0,
    };

    internal sealed record RecordedRequest(string RequestLine, IReadOnlyDictionary<string, string> Headers, string Body);

    /// <summary>Answers exactly one HTTP/1.1 request with a fixed JSON body, and records it.</summary>
    private sealed class RecordingServer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly TaskCompletionSource<RecordedRequest> _request = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _serving;

        private RecordingServer(string body)
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Url = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
            _serving = ServeAsync(body);
        }

        public Uri Url { get; }

        public Task<RecordedRequest> Request => _request.Task;

        public static RecordingServer Start(string body) => new(body);

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            try
            {
                await _serving;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
            {
                // Stopped before a request came.
            }
        }

        private async Task ServeAsync(string body)
        {
            using var socket = await _listener.AcceptTcpClientAsync();
            var stream = socket.GetStream();
            var raw = new List<byte>();
            var buffer = new byte[8192];
            int headerEnd;
            while ((headerEnd = IndexOfHeaderEnd(raw)) < 0)
            {
                var n = await stream.ReadAsync(buffer);
                if (n == 0)
                {
                    return;
                }

                raw.AddRange(buffer.AsSpan(0, n).ToArray());
            }

            var head = Encoding.ASCII.GetString(raw.ToArray(), 0, headerEnd);
            var lines = head.Split("\r\n");
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
            }

            var length = headers.TryGetValue("content-length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
            while (raw.Count < headerEnd + 4 + length)
            {
                var n = await stream.ReadAsync(buffer);
                if (n == 0)
                {
                    break;
                }

                raw.AddRange(buffer.AsSpan(0, n).ToArray());
            }

            var requestBody = Encoding.UTF8.GetString(raw.ToArray(), headerEnd + 4, Math.Max(0, raw.Count - headerEnd - 4));
            var bytes = Encoding.UTF8.GetBytes(body);
            var response = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(response);
            await stream.WriteAsync(bytes);
            _request.TrySetResult(new RecordedRequest(lines[0], headers, requestBody));
        }

        private static int IndexOfHeaderEnd(List<byte> raw)
        {
            for (var i = 0; i + 3 < raw.Count; i++)
            {
                if (raw[i] == '\r' && raw[i + 1] == '\n' && raw[i + 2] == '\r' && raw[i + 3] == '\n')
                {
                    return i;
                }
            }

            return -1;
        }
    }
}
