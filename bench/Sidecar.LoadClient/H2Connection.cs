using System.Net;

namespace Sidecar.LoadClient;

/// <summary>The outcome of one call: the gRPC status (-1 when none came, -2 for a non-200 HTTP answer) and the body size.</summary>
internal readonly record struct CallResult(int GrpcStatus, int BodyBytes);

/// <summary>
/// One HTTP/2 connection (h2c, prior knowledge) sending pre-encoded gRPC frames: what a gRPC client does on the wire,
/// without a gRPC library's per-call machinery on top. Each instance owns its own connection pool, so K instances are
/// K connections.
/// </summary>
internal sealed class H2Connection : IDisposable
{
    private readonly HttpClient _client;

    public H2Connection(Uri baseAddress, TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = false,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _client = new HttpClient(handler)
        {
            BaseAddress = baseAddress,
            Timeout = timeout,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    /// <summary>Sends one unary call and reads the whole answer into <paramref name="buffer"/> (the excess is dropped).</summary>
    public async Task<CallResult> CallAsync(Call call, byte[] buffer, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, call.Path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(call.Frame),
        };
        request.Content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var total = 0;
        while (true)
        {
            var offset = Math.Min(total, buffer.Length - 1);
            var read = await stream.ReadAsync(buffer.AsMemory(offset), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            return new CallResult(-2, total);
        }

        // A normal answer carries grpc-status in the trailers; an error without a body may send it in the headers.
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var values) || response.Headers.TryGetValues("grpc-status", out values)
            ? int.TryParse(values.FirstOrDefault(), out var code) ? code : -1
            : -1;
        return new CallResult(status, total);
    }

    public void Dispose() => _client.Dispose();
}
