using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;

namespace Sidecar.Upstream.Internal;

/// <summary>
/// How requests reach Stigg: one pooled HTTP client, the SDK's headers, single attempts against the Edge or
/// <c>/graphql</c>, the mapping of statuses and GraphQL errors to <see cref="UpstreamException"/>, and the resilience
/// pipelines (<see cref="StiggResilience"/>: timeouts, retries, the shared circuit breaker) every call runs through.
/// Knows no operation; <see cref="StiggApiClient"/> does.
/// </summary>
internal sealed class StiggTransport : IDisposable
{
    private readonly TimeProvider _time;
    private readonly HttpClient _http;
    private readonly Uri _graphQlUri;

    public StiggTransport(UpstreamOptions options, ILogger logger, TimeProvider time)
    {
        _time = time;
        Resilience = new StiggResilience(options, logger, time);
        _graphQlUri = new Uri(options.ApiUrl.AbsoluteUri.TrimEnd('/') + "/graphql");

        var handler = new SocketsHttpHandler
        {
            // The Edge is a CDN: recycle connections now and then so DNS changes are picked up.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.All,
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            UseCookies = false,

            // X-API-KEY is a custom header: a redirect would hand it to whatever host the redirect names.
            AllowAutoRedirect = false,
        };
        _http = new HttpClient(handler, disposeHandler: true)
        {
            // Budgets are enforced per call with cancellation tokens, not by HttpClient.
            Timeout = Timeout.InfiniteTimeSpan,

            // HTTP/2 over TLS when the server offers it (ALPN); plain http:// stays on HTTP/1.1 keep-alive.
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        foreach (var (name, value) in SdkHeaders.Common(options))
        {
            _http.DefaultRequestHeaders.TryAddWithoutValidation(name, value);
        }

        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
    }

    public StiggResilience Resilience { get; }

    public void Dispose() => _http.Dispose();

    public static UpstreamException Invalid(string operation, string reason) =>
        new(UpstreamFailure.InvalidResponse, $"{operation}: {reason}");

    /// <summary>One Edge <c>GET</c>: returns <c>data</c>, or throws for a bad status or a non-empty <c>errors</c>.</summary>
    public async Task<TData?> GetEdgeAsync<TData>(
        Uri uri, string operation, JsonTypeInfo<GraphQlResponse<TData>> typeInfo, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.TryAddWithoutValidation(SdkHeaders.ApiVersion, "1");
        var body = await SendForJsonAsync(request, operation, isGraphQl: false, typeInfo, ct).ConfigureAwait(false);
        ThrowIfErrors(body.Errors, operation);
        return body.Data;
    }

    /// <summary>One <c>POST /graphql</c>: returns <c>data</c>, or throws for a bad status or a non-empty <c>errors</c>.</summary>
    public async Task<TData?> PostGraphQlAsync<TData>(
        string operationName, byte[] body, JsonTypeInfo<GraphQlResponse<TData>> typeInfo, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _graphQlUri);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation(SdkHeaders.OperationName, operationName);
        var response = await SendForJsonAsync(request, operationName, isGraphQl: true, typeInfo, ct).ConfigureAwait(false);
        ThrowIfErrors(response.Errors, operationName);
        return response.Data;
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> through the resilience pipeline of <paramref name="budget"/>: total timeout,
    /// retries (per <paramref name="policy"/>), the shared circuit breaker, per-attempt timeout.
    /// </summary>
    public Task<T> ExecuteAsync<TState, T>(
        string operation,
        CallBudget budget,
        RetryPolicy policy,
        TState state,
        Func<TState, CancellationToken, Task<T>> attempt,
        CancellationToken ct) =>
        Resilience.ExecuteAsync(operation, budget, policy, state, attempt, ct);

    private async Task<GraphQlResponse<TData>> SendForJsonAsync<TData>(
        HttpRequestMessage request, string operation, bool isGraphQl, JsonTypeInfo<GraphQlResponse<TData>> typeInfo, CancellationToken ct)
    {
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await StatusFailureAsync(response, operation, isGraphQl, ct).ConfigureAwait(false);
        }

        try
        {
            var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync(stream, typeInfo, ct).ConfigureAwait(false)
                    ?? throw Invalid(operation, "the response body is JSON null");
            }
        }
        catch (JsonException ex)
        {
            throw new UpstreamException(UpstreamFailure.InvalidResponse, $"{operation}: the response is not valid JSON ({ex.Message})", ex)
            {
                StatusCode = (int)response.StatusCode,
            };
        }
    }

    private async Task<UpstreamException> StatusFailureAsync(HttpResponseMessage response, string operation, bool isGraphQl, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        if (status is 401 or 403)
        {
            return new UpstreamException(UpstreamFailure.Unauthorized, $"{operation}: HTTP {status}: the API key was rejected. Double check SERVER_API_KEY.")
            {
                StatusCode = status,
            };
        }

        if (status == 429 || status >= 500)
        {
            return new UpstreamException(UpstreamFailure.Unavailable, $"{operation}: HTTP {status}")
            {
                StatusCode = status,
                RetryAfter = RetryAfter(response),
            };
        }

        // A GraphQL server explains a 4xx in its errors[]: worth reading, it is the caller's answer.
        string? detail = null;
        string? code = null;
        if (isGraphQl)
        {
            try
            {
                var body = await ReadErrorBodyAsync(response.Content, ct).ConfigureAwait(false);
                if (body?.Errors is { Count: > 0 } errors)
                {
                    detail = errors[0].Message;
                    code = ErrorField(errors[0], "code");
                }
            }
            catch (JsonException)
            {
                // The status alone then.
            }
        }

        return new UpstreamException(UpstreamFailure.InvalidResponse, detail is null ? $"{operation}: HTTP {status}" : $"{operation}: HTTP {status}: {detail}")
        {
            StatusCode = status,
            ErrorCode = code,
        };
    }

    /// <summary>Reads a small GraphQL error body; a body that is not JSON yields a <see cref="JsonException"/>.</summary>
    private static async Task<GraphQlResponse<JsonElement>?> ReadErrorBodyAsync(HttpContent content, CancellationToken ct)
    {
        var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonSerializer.DeserializeAsync(stream, UpstreamJsonContext.Default.GraphQlResponseJsonElement, ct).ConfigureAwait(false);
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        if (header.Delta is { } delta)
        {
            return delta;
        }

        return header.Date is { } date ? date - _time.GetUtcNow() : null;
    }

    private static void ThrowIfErrors(List<GraphQlError>? errors, string operation)
    {
        if (errors is not { Count: > 0 })
        {
            return;
        }

        foreach (var error in errors)
        {
            if (string.Equals(ErrorField(error, "code"), "Unauthenticated", StringComparison.OrdinalIgnoreCase))
            {
                throw new UpstreamException(UpstreamFailure.Unauthorized, $"{operation}: authentication failed. Double check SERVER_API_KEY.")
                {
                    ErrorCode = "Unauthenticated",
                    TraceId = ErrorField(error, "traceId"),
                };
            }
        }

        var first = errors[0];
        throw new UpstreamException(UpstreamFailure.InvalidResponse, $"{operation}: {first.Message ?? "GraphQL error without a message"}")
        {
            ErrorCode = ErrorField(first, "code"),
            TraceId = ErrorField(first, "traceId"),
        };
    }

    private static string? ErrorField(GraphQlError error, string name) =>
        error.Extensions is { ValueKind: JsonValueKind.Object } ext
        && ext.TryGetProperty(name, out var value)
        && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
