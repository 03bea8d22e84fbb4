using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Upstream.Internal;

namespace Sidecar.Upstream;

/// <summary>
/// Stigg's request/response APIs: entitlements reads from the Edge (or GraphQL), the start-up API-key check, and the
/// usage/event mutations. One pooled, keep-alive connection handler for the process; thread-safe.
/// </summary>
/// <remarks>
/// Retries (stigg-behaviour §2.4, with a shorter back-off, see <see cref="UpstreamOptions.RetryBaseDelay"/>): reads
/// retry network errors, attempt timeouts, 429 and 5xx; mutations retry network errors, 429, 502, 503 and 504 only
/// (never a GraphQL error, never a timed-out attempt that may have been applied). A <c>Retry-After</c> longer than the
/// computed delay wins; if it does not fit in what is left of the budget, the call fails at once.
/// </remarks>
public sealed class StiggApiClient : IDisposable
{
    private const string EdgeEntitlementsOperation = "Edge entitlements-state";
    private const string EdgeSdkConfigurationOperation = "Edge server-sdk-configuration";

    private readonly UpstreamOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly HttpClient _http;
    private readonly string _edgeBase;
    private readonly Uri _graphQlUri;
    private readonly Uri _sdkConfigurationUri;

    public StiggApiClient(UpstreamOptions options, ILogger logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;

        _edgeBase = options.EdgeApiUrl.AbsoluteUri.TrimEnd('/');
        _graphQlUri = new Uri(options.ApiUrl.AbsoluteUri.TrimEnd('/') + "/graphql");
        _sdkConfigurationUri = new Uri(_edgeBase + "/v1/config/server-sdk-configuration.json");

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
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Sidecar.Aot", "1.0"));
    }

    /// <summary>
    /// A customer's entitlements: <c>GET {edge}/v1/c/{customerId}/entitlements-state.json[?resourceId=]</c>, or the
    /// GraphQL <c>GetEntitlementsState</c> query when the Edge is disabled or <paramref name="skipEdge"/> asks for a
    /// read-after-write. Everything, retries included, fits in <see cref="UpstreamOptions.EntitlementsTimeout"/>.
    /// </summary>
    /// <exception cref="UpstreamException">The fetch failed; <see cref="UpstreamException.Failure"/> says why.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled.</exception>
    public Task<EntitlementsStateDto> FetchEntitlementsStateAsync(CustomerKey key, bool skipEdge, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(key.CustomerId);
        if (_options.EdgeEnabled && !skipEdge)
        {
            return ExecuteAsync(
                EdgeEntitlementsOperation,
                RetryPolicy.Read,
                _options.EntitlementsTimeout,
                _options.EntitlementsAttemptTimeout,
                (Client: this, Uri: EntitlementsStateUri(key)),
                static (s, t) => s.Client.EdgeEntitlementsAttemptAsync(s.Uri, t),
                ct);
        }

        return ExecuteAsync(
            GraphQlDocuments.GetEntitlementsStateName,
            RetryPolicy.Read,
            _options.EntitlementsTimeout,
            _options.EntitlementsAttemptTimeout,
            (Client: this, Body: GraphQlRequestWriter.GetEntitlementsState(key)),
            static async (s, t) =>
            {
                var data = await s.Client.PostGraphQlAttemptAsync(
                    GraphQlDocuments.GetEntitlementsStateName, s.Body, CoreJsonContext.Default.GraphQlResponseEntitlementsStateData, t).ConfigureAwait(false);
                return ExtractState(data, GraphQlDocuments.GetEntitlementsStateName);
            },
            ct);
    }

    /// <summary>
    /// The start-up API-key check (stigg-behaviour §9.3): the Edge SDK configuration, or GraphQL
    /// <c>GetSdkConfiguration</c> when the Edge is disabled.
    /// </summary>
    /// <exception cref="UpstreamException"><see cref="UpstreamFailure.Unauthorized"/> for a bad key, otherwise why Stigg could not say.</exception>
    public Task ValidateApiKeyAsync(CancellationToken ct)
    {
        if (_options.EdgeEnabled)
        {
            return ExecuteAsync(
                EdgeSdkConfigurationOperation,
                RetryPolicy.Read,
                _options.RequestTimeout,
                _options.RequestTimeout,
                this,
                static async (client, t) =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, client._sdkConfigurationUri);
                    request.Headers.TryAddWithoutValidation(SdkHeaders.ApiVersion, "1");
                    var body = await client.SendForJsonAsync(
                        request, EdgeSdkConfigurationOperation, isGraphQl: false, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t).ConfigureAwait(false);
                    ThrowIfErrors(body.Errors, EdgeSdkConfigurationOperation);
                    return true;
                },
                ct);
        }

        return ExecuteAsync(
            GraphQlDocuments.GetSdkConfigurationName,
            RetryPolicy.Read,
            _options.RequestTimeout,
            _options.RequestTimeout,
            (Client: this, Body: GraphQlRequestWriter.GetSdkConfiguration()),
            static async (s, t) =>
            {
                await s.Client.PostGraphQlAttemptAsync(
                    GraphQlDocuments.GetSdkConfigurationName, s.Body, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t).ConfigureAwait(false);
                return true;
            },
            ct);
    }

    /// <summary>
    /// Reports usage: one measurement with <c>ReportUsage</c>, several with one <c>ReportUsageBulk</c>. Returns Stigg's
    /// acknowledgements in the order of <paramref name="reports"/>.
    /// </summary>
    /// <exception cref="UpstreamException">Stigg refused or could not be reached; the message carries Stigg's error.</exception>
    public async Task<IReadOnlyList<UsageReportResult>> ReportUsageAsync(IReadOnlyList<UsageReport> reports, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(reports);
        if (reports.Count == 0)
        {
            return [];
        }

        foreach (var report in reports)
        {
            ArgumentNullException.ThrowIfNull(report, nameof(reports));
            ArgumentException.ThrowIfNullOrEmpty(report.CustomerId, nameof(reports));
            ArgumentException.ThrowIfNullOrEmpty(report.FeatureId, nameof(reports));
        }

        if (reports.Count == 1)
        {
            var single = await ExecuteAsync(
                GraphQlDocuments.ReportUsageName,
                RetryPolicy.Mutation,
                _options.RequestTimeout,
                _options.RequestTimeout,
                (Client: this, Body: GraphQlRequestWriter.ReportUsage(reports[0])),
                static (s, t) => s.Client.PostGraphQlAttemptAsync(
                    GraphQlDocuments.ReportUsageName, s.Body, UpstreamJsonContext.Default.GraphQlResponseReportUsageData, t),
                ct).ConfigureAwait(false);
            var measurement = single?.ReportUsage
                ?? throw Invalid(GraphQlDocuments.ReportUsageName, "the response has no data.reportUsage");
            return [ToResult(measurement, reports[0])];
        }

        var bulk = await ExecuteAsync(
            GraphQlDocuments.ReportUsageBulkName,
            RetryPolicy.Mutation,
            _options.RequestTimeout,
            _options.RequestTimeout,
            (Client: this, Body: GraphQlRequestWriter.ReportUsageBulk(reports)),
            static (s, t) => s.Client.PostGraphQlAttemptAsync(
                GraphQlDocuments.ReportUsageBulkName, s.Body, UpstreamJsonContext.Default.GraphQlResponseReportUsageBulkData, t),
            ct).ConfigureAwait(false);
        var measurements = bulk?.ReportUsageBulk
            ?? throw Invalid(GraphQlDocuments.ReportUsageBulkName, "the response has no data.reportUsageBulk");

        // Stigg answers in request order; when the counts differ only the returned fields can be trusted.
        var matched = measurements.Count == reports.Count;
        var results = new UsageReportResult[measurements.Count];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = ToResult(measurements[i], matched ? reports[i] : null);
        }

        return results;
    }

    /// <summary>Sends raw events with <c>ReportEvent</c>. Stigg aggregates them; nothing comes back to cache.</summary>
    /// <exception cref="UpstreamException">Stigg refused or could not be reached.</exception>
    public Task ReportEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return Task.CompletedTask;
        }

        foreach (var e in events)
        {
            ArgumentNullException.ThrowIfNull(e, nameof(events));
            ArgumentException.ThrowIfNullOrEmpty(e.EventName, nameof(events));
            ArgumentException.ThrowIfNullOrEmpty(e.CustomerId, nameof(events));
            ArgumentException.ThrowIfNullOrEmpty(e.IdempotencyKey, nameof(events));
        }

        return ExecuteAsync(
            GraphQlDocuments.ReportEventName,
            RetryPolicy.Mutation,
            _options.RequestTimeout,
            _options.RequestTimeout,
            (Client: this, Body: GraphQlRequestWriter.ReportEvent(events)),
            static (s, t) => s.Client.PostGraphQlAttemptAsync(
                GraphQlDocuments.ReportEventName, s.Body, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t),
            ct);
    }

    public void Dispose() => _http.Dispose();

    /// <summary>The Edge URL of a customer's state; both ids are percent-encoded (Stigg's SDK does not, §2.1).</summary>
    internal Uri EntitlementsStateUri(CustomerKey key)
    {
        var url = new StringBuilder(_edgeBase.Length + 64)
            .Append(_edgeBase)
            .Append("/v1/c/")
            .Append(Uri.EscapeDataString(key.CustomerId))
            .Append("/entitlements-state.json");
        if (key.ResourceId is not null)
        {
            url.Append("?resourceId=").Append(Uri.EscapeDataString(key.ResourceId));
        }

        return new Uri(url.ToString());
    }

    private async Task<EntitlementsStateDto> EdgeEntitlementsAttemptAsync(Uri uri, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.TryAddWithoutValidation(SdkHeaders.ApiVersion, "1");
        var body = await SendForJsonAsync(
            request, EdgeEntitlementsOperation, isGraphQl: false, CoreJsonContext.Default.GraphQlResponseEntitlementsStateData, ct).ConfigureAwait(false);
        ThrowIfErrors(body.Errors, EdgeEntitlementsOperation);
        return ExtractState(body.Data, EdgeEntitlementsOperation);
    }

    /// <summary>One <c>POST /graphql</c>: returns <c>data</c>, or throws for a bad status or a non-empty <c>errors</c>.</summary>
    private async Task<TData?> PostGraphQlAttemptAsync<TData>(
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
        var retryAfter = RetryAfter(response);
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
                RetryAfter = retryAfter,
            };
        }

        // A GraphQL server explains a 4xx in its errors[]: worth reading, it is the caller's answer.
        string? detail = null;
        string? code = null;
        if (isGraphQl)
        {
            try
            {
                var body = await response.Content.ReadFromJsonSafeAsync(ct).ConfigureAwait(false);
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

    private static EntitlementsStateDto ExtractState(EntitlementsStateData? data, string operation)
    {
        var state = data?.EntitlementsState ?? throw Invalid(operation, "the response has no data.entitlementsState");

        // "entitlementsV2": null deserializes to null despite the initializer; the rest of the code relies on a list.
        state.EntitlementsV2 ??= [];
        return state;
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

    private static UsageReportResult ToResult(UsageMeasurementDto dto, UsageReport? request)
    {
        var credit = dto.Credit is { CurrencyId: { Length: > 0 } currencyId } c
            ? new CreditUsageResult
            {
                CurrencyId = currencyId,
                CurrentUsage = c.CurrentUsage ?? 0,
                Timestamp = c.Timestamp,
                UsagePeriodEnd = c.UsagePeriodEnd,
            }
            : null;
        return new UsageReportResult
        {
            MeasurementId = dto.Id ?? string.Empty,
            CustomerId = dto.CustomerId ?? request?.CustomerId ?? string.Empty,
            ResourceId = dto.ResourceId ?? request?.ResourceId,
            FeatureId = dto.FeatureId ?? request?.FeatureId ?? string.Empty,
            CurrentUsage = dto.CurrentUsage,
            UsagePeriodStart = dto.UsagePeriodStart,
            UsagePeriodEnd = dto.UsagePeriodEnd ?? dto.NextResetDate,
            Timestamp = dto.Timestamp,
            Credit = credit,
        };
    }

    private static UpstreamException Invalid(string operation, string reason) =>
        new(UpstreamFailure.InvalidResponse, $"{operation}: {reason}");

    /// <summary>
    /// Runs <paramref name="attempt"/> until it succeeds, fails for good, or the total <paramref name="budget"/> is
    /// spent. Each attempt gets at most <paramref name="attemptTimeout"/> and never more than what is left.
    /// </summary>
    private async Task<T> ExecuteAsync<TState, T>(
        string operation,
        RetryPolicy policy,
        TimeSpan budget,
        TimeSpan attemptTimeout,
        TState state,
        Func<TState, CancellationToken, Task<T>> attempt,
        CancellationToken ct)
    {
        var started = _time.GetTimestamp();
        using var budgetCts = new CancellationTokenSource(budget, _time);
        using var callCts = CancellationTokenSource.CreateLinkedTokenSource(ct, budgetCts.Token);
        for (var attemptNo = 1; ; attemptNo++)
        {
            UpstreamException failure;
            bool retryable;
            var remaining = budget - _time.GetElapsedTime(started);
            using (var attemptTimeoutCts = new CancellationTokenSource(remaining < attemptTimeout ? Positive(remaining) : attemptTimeout, _time))
            using (var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(callCts.Token, attemptTimeoutCts.Token))
            {
                try
                {
                    return await attempt(state, attemptCts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    throw;
                }
                catch (OperationCanceledException ex) when (budgetCts.IsCancellationRequested)
                {
                    failure = new UpstreamException(UpstreamFailure.Unavailable, $"{operation}: no answer within the {budget.TotalMilliseconds:0} ms budget", ex);
                    retryable = false;
                }
                catch (OperationCanceledException ex) when (attemptTimeoutCts.IsCancellationRequested)
                {
                    failure = new UpstreamException(UpstreamFailure.Unavailable, $"{operation}: attempt {attemptNo} timed out", ex);
                    retryable = policy == RetryPolicy.Read;
                }
                catch (HttpRequestException ex)
                {
                    failure = new UpstreamException(UpstreamFailure.Unavailable, $"{operation}: {ex.Message}", ex);
                    retryable = true;
                }
                catch (IOException ex)
                {
                    failure = new UpstreamException(UpstreamFailure.Unavailable, $"{operation}: {ex.Message}", ex);
                    retryable = true;
                }
                catch (UpstreamException ex)
                {
                    failure = ex;
                    retryable = ex.StatusCode is { } status && IsRetryableStatus(status, policy);
                }
            }

            failure.Attempts = attemptNo;
            if (!retryable || attemptNo > _options.MaxRetries)
            {
                throw failure;
            }

            var delay = Backoff.RetryDelay(attemptNo, _options.RetryBaseDelay, _options.RetryMaxDelay);
            if (failure.RetryAfter is { } retryAfter && retryAfter > delay)
            {
                delay = retryAfter;
            }

            remaining = budget - _time.GetElapsedTime(started);
            if (delay >= remaining)
            {
                Log.RetryBeyondBudget(_logger, operation, (long)delay.TotalMilliseconds, (long)remaining.TotalMilliseconds);
                throw failure;
            }

            Log.Retrying(_logger, operation, attemptNo + 1, (long)delay.TotalMilliseconds, failure.Message);
            try
            {
                await Task.Delay(delay, _time, callCts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw failure;
            }
        }
    }

    private static TimeSpan Positive(TimeSpan value) => value > TimeSpan.Zero ? value : TimeSpan.FromMilliseconds(1);

    private static bool IsRetryableStatus(int status, RetryPolicy policy) => policy == RetryPolicy.Read
        ? status == 429 || status >= 500
        : status is 429 or 502 or 503 or 504;

    private enum RetryPolicy
    {
        /// <summary>Idempotent: any transient failure is retried.</summary>
        Read,

        /// <summary>May have been applied: only failures that certainly were not (or that the server asks to repeat).</summary>
        Mutation,
    }
}

internal static class HttpContentExtensions
{
    /// <summary>Reads a small GraphQL error body; a body that is not JSON yields a <see cref="JsonException"/>.</summary>
    public static async Task<GraphQlResponse<JsonElement>?> ReadFromJsonSafeAsync(this HttpContent content, CancellationToken ct)
    {
        var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonSerializer.DeserializeAsync(stream, UpstreamJsonContext.Default.GraphQlResponseJsonElement, ct).ConfigureAwait(false);
        }
    }
}
