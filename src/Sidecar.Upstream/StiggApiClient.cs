using System.Text;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Upstream.Internal;

namespace Sidecar.Upstream;

/// <summary>
/// Stigg's request/response operations: entitlements reads from the Edge (or GraphQL), the start-up API-key check, and
/// the usage/event mutations. Wire DTOs stay inside: reads come back as <see cref="CustomerSnapshot"/>s. One pooled,
/// keep-alive connection handler for the process (<see cref="StiggTransport"/>); thread-safe.
/// </summary>
/// <remarks>
/// Every call runs through Polly.Core pipelines (<see cref="Internal.StiggResilience"/>): the operation's total
/// budget, retries with exponential back-off and jitter (stigg-behaviour §2.4, with a shorter back-off, see
/// <see cref="UpstreamOptions.RetryBaseDelay"/>), a circuit breaker shared by all calls to Stigg
/// (<see cref="CircuitState"/>), and a per-attempt timeout. Reads and keyed mutations (usage reports always carry an
/// idempotency key, events require one) retry network errors, attempt timeouts, 429 and 5xx; never a GraphQL error,
/// 401/403 or another 4xx. A <c>Retry-After</c> replaces the computed delay; if it does not fit in what is left of
/// the budget, the call fails at once. While the circuit is open, calls fail at once with
/// <see cref="UpstreamFailure.Unavailable"/> and <see cref="UpstreamException.IsCircuitOpen"/>, without network.
/// </remarks>
public sealed class StiggApiClient : IDisposable
{
    private const string EdgeEntitlementsOperation = "Edge entitlements-state";
    private const string EdgeSdkConfigurationOperation = "Edge server-sdk-configuration";

    private readonly UpstreamOptions _options;
    private readonly TimeProvider _time;
    private readonly StiggTransport _transport;
    private readonly string _edgeBase;
    private readonly Uri _sdkConfigurationUri;

    public StiggApiClient(UpstreamOptions options, ILogger logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _transport = new StiggTransport(options, logger, _time);
        _transport.Resilience.StateChanged = args => CircuitStateChanged?.Invoke(this, args);
        _edgeBase = options.EdgeApiUrl.AbsoluteUri.TrimEnd('/');
        _sdkConfigurationUri = new Uri(_edgeBase + "/v1/config/server-sdk-configuration.json");
    }

    /// <summary>
    /// The circuit breaker shared by every call to Stigg's API (Edge and GraphQL), for readiness and metrics.
    /// </summary>
    public StiggCircuitState CircuitState => _transport.Resilience.State;

    /// <summary>
    /// Raised on every change of <see cref="CircuitState"/>, on the thread of the call that caused it. Keep handlers
    /// short; an exception from one is logged and swallowed.
    /// </summary>
    public event EventHandler<StiggCircuitStateChangedEventArgs>? CircuitStateChanged;

    /// <summary>
    /// A customer's entitlements: <c>GET {edge}/v1/c/{customerId}/entitlements-state.json[?resourceId=]</c>, or the
    /// GraphQL <c>GetEntitlementsState</c> query when the Edge is disabled or <paramref name="skipEdge"/> asks for a
    /// read-after-write. Everything, retries included, fits in <see cref="UpstreamOptions.EntitlementsTimeout"/>. The
    /// snapshot's <see cref="CustomerSnapshot.FetchedAt"/> is the moment the answer arrived.
    /// </summary>
    /// <exception cref="UpstreamException">The fetch failed; <see cref="UpstreamException.Failure"/> says why.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled.</exception>
    public async Task<CustomerSnapshot> FetchEntitlementsAsync(CustomerKey key, bool skipEdge, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(key.CustomerId);
        var state = await FetchStateAsync(key, skipEdge, ct).ConfigureAwait(false);
        return EntitlementsStateMapper.ToSnapshot(key, state, _time.GetUtcNow().ToUnixTimeMilliseconds());
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
            return _transport.ExecuteAsync(
                EdgeSdkConfigurationOperation,
                CallBudget.Request,
                RetryPolicy.Idempotent,
                (Transport: _transport, Uri: _sdkConfigurationUri),
                static (s, t) => s.Transport.GetEdgeAsync(
                    s.Uri, EdgeSdkConfigurationOperation, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t),
                ct);
        }

        return _transport.ExecuteAsync(
            GraphQlDocuments.GetSdkConfigurationName,
            CallBudget.Request,
            RetryPolicy.Idempotent,
            (Transport: _transport, Body: GraphQlRequestWriter.GetSdkConfiguration()),
            static (s, t) => s.Transport.PostGraphQlAsync(
                GraphQlDocuments.GetSdkConfigurationName, s.Body, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t),
            ct);
    }

    /// <summary>
    /// Reports usage: one measurement with <c>ReportUsage</c>, several with one <c>ReportUsageBulk</c>. Returns Stigg's
    /// acknowledgements in the order of <paramref name="reports"/>. A report without
    /// <see cref="UsageReport.IdempotencyKey"/> is given one (a nanoid) before the first attempt; every retry sends
    /// the same key, so Stigg applies each measurement once.
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

        // Every measurement carries an idempotency key from before the first attempt, so a retry after a lost reply
        // (applied, answer dropped) is applied once: Stigg answers a known key with the earlier measurement.
        reports = WithIdempotencyKeys(reports);

        if (reports.Count == 1)
        {
            var single = await _transport.ExecuteAsync(
                GraphQlDocuments.ReportUsageName,
                CallBudget.Request,
                RetryPolicy.Idempotent,
                (Transport: _transport, Body: GraphQlRequestWriter.ReportUsage(reports[0])),
                static (s, t) => s.Transport.PostGraphQlAsync(
                    GraphQlDocuments.ReportUsageName, s.Body, UpstreamJsonContext.Default.GraphQlResponseReportUsageData, t),
                ct).ConfigureAwait(false);
            var measurement = single?.ReportUsage
                ?? throw StiggTransport.Invalid(GraphQlDocuments.ReportUsageName, "the response has no data.reportUsage");
            return [ToResult(measurement, reports[0])];
        }

        var bulk = await _transport.ExecuteAsync(
            GraphQlDocuments.ReportUsageBulkName,
            CallBudget.Request,
            RetryPolicy.Idempotent,
            (Transport: _transport, Body: GraphQlRequestWriter.ReportUsageBulk(reports)),
            static (s, t) => s.Transport.PostGraphQlAsync(
                GraphQlDocuments.ReportUsageBulkName, s.Body, UpstreamJsonContext.Default.GraphQlResponseReportUsageBulkData, t),
            ct).ConfigureAwait(false);
        var measurements = bulk?.ReportUsageBulk
            ?? throw StiggTransport.Invalid(GraphQlDocuments.ReportUsageBulkName, "the response has no data.reportUsageBulk");

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

        return _transport.ExecuteAsync(
            GraphQlDocuments.ReportEventName,
            CallBudget.Request,
            RetryPolicy.Idempotent,
            (Transport: _transport, Body: GraphQlRequestWriter.ReportEvent(events)),
            static (s, t) => s.Transport.PostGraphQlAsync(
                GraphQlDocuments.ReportEventName, s.Body, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t),
            ct);
    }

    public void Dispose() => _transport.Dispose();

    /// <summary>The reports as given when each has a key; otherwise copies where each missing key is a fresh nanoid.</summary>
    internal static IReadOnlyList<UsageReport> WithIdempotencyKeys(IReadOnlyList<UsageReport> reports)
    {
        UsageReport[]? keyed = null;
        for (var i = 0; i < reports.Count; i++)
        {
            if (string.IsNullOrEmpty(reports[i].IdempotencyKey))
            {
                keyed ??= [.. reports];
                keyed[i] = reports[i] with { IdempotencyKey = NanoId.New() };
            }
        }

        return keyed ?? reports;
    }

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

    private Task<EntitlementsStateDto> FetchStateAsync(CustomerKey key, bool skipEdge, CancellationToken ct)
    {
        if (_options.EdgeEnabled && !skipEdge)
        {
            return _transport.ExecuteAsync(
                EdgeEntitlementsOperation,
                CallBudget.Entitlements,
                RetryPolicy.Idempotent,
                (Transport: _transport, Uri: EntitlementsStateUri(key)),
                static async (s, t) =>
                {
                    var data = await s.Transport.GetEdgeAsync(
                        s.Uri, EdgeEntitlementsOperation, CoreJsonContext.Default.GraphQlResponseEntitlementsStateData, t).ConfigureAwait(false);
                    return ExtractState(data, EdgeEntitlementsOperation);
                },
                ct);
        }

        return _transport.ExecuteAsync(
            GraphQlDocuments.GetEntitlementsStateName,
            CallBudget.Entitlements,
            RetryPolicy.Idempotent,
            (Transport: _transport, Body: GraphQlRequestWriter.GetEntitlementsState(key)),
            static async (s, t) =>
            {
                var data = await s.Transport.PostGraphQlAsync(
                    GraphQlDocuments.GetEntitlementsStateName, s.Body, CoreJsonContext.Default.GraphQlResponseEntitlementsStateData, t).ConfigureAwait(false);
                return ExtractState(data, GraphQlDocuments.GetEntitlementsStateName);
            },
            ct);
    }

    private static EntitlementsStateDto ExtractState(EntitlementsStateData? data, string operation)
    {
        var state = data?.EntitlementsState ?? throw StiggTransport.Invalid(operation, "the response has no data.entitlementsState");

        // "entitlementsV2": null deserializes to null despite the initializer; the mapper relies on a list.
        state.EntitlementsV2 ??= [];
        return state;
    }

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
}
