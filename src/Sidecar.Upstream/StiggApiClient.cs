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
        _edgeBase = options.EdgeApiUrl.AbsoluteUri.TrimEnd('/');
        _sdkConfigurationUri = new Uri(_edgeBase + "/v1/config/server-sdk-configuration.json");
    }

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
                RetryPolicy.Read,
                _options.RequestTimeout,
                _options.RequestTimeout,
                (Transport: _transport, Uri: _sdkConfigurationUri),
                static (s, t) => s.Transport.GetEdgeAsync(
                    s.Uri, EdgeSdkConfigurationOperation, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t),
                ct);
        }

        return _transport.ExecuteAsync(
            GraphQlDocuments.GetSdkConfigurationName,
            RetryPolicy.Read,
            _options.RequestTimeout,
            _options.RequestTimeout,
            (Transport: _transport, Body: GraphQlRequestWriter.GetSdkConfiguration()),
            static (s, t) => s.Transport.PostGraphQlAsync(
                GraphQlDocuments.GetSdkConfigurationName, s.Body, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t),
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
            var single = await _transport.ExecuteAsync(
                GraphQlDocuments.ReportUsageName,
                RetryPolicy.Mutation,
                _options.RequestTimeout,
                _options.RequestTimeout,
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
            RetryPolicy.Mutation,
            _options.RequestTimeout,
            _options.RequestTimeout,
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
            RetryPolicy.Mutation,
            _options.RequestTimeout,
            _options.RequestTimeout,
            (Transport: _transport, Body: GraphQlRequestWriter.ReportEvent(events)),
            static (s, t) => s.Transport.PostGraphQlAsync(
                GraphQlDocuments.ReportEventName, s.Body, UpstreamJsonContext.Default.GraphQlResponseJsonElement, t),
            ct);
    }

    public void Dispose() => _transport.Dispose();

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
                RetryPolicy.Read,
                _options.EntitlementsTimeout,
                _options.EntitlementsAttemptTimeout,
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
            RetryPolicy.Read,
            _options.EntitlementsTimeout,
            _options.EntitlementsAttemptTimeout,
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
