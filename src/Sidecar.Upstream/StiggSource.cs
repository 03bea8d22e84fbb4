using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Cache;
using Sidecar.Core.Model;
using Sidecar.Upstream.Outbox;
using Sidecar.Upstream.Outbox.Internal;

namespace Sidecar.Upstream;

/// <summary>
/// Entitlements from Stigg: the Edge API on a miss (the GraphQL API when the Edge is off, or for a fresh read), usage
/// and events through the GraphQL API. Stigg's failures reach the cache as <see cref="SourceUnavailableException"/>.
/// With a <see cref="UsageOutbox"/>, usage and events that cannot reach Stigg (<see cref="UpstreamFailure.Unavailable"/>)
/// are stored durably and acknowledged instead (DESIGN decision 9).
/// </summary>
/// <param name="client">Stigg's API.</param>
/// <param name="outbox">Where usage goes while Stigg is unreachable; null: such reports fail as before.</param>
/// <param name="logger">For the outbox acknowledgements (debug).</param>
public sealed class StiggSource(StiggApiClient client, UsageOutbox? outbox = null, ILogger? logger = null) : IEntitlementsSource
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public string Mode => "stigg";

    public bool PushesAllChanges => false;

    public bool EntityExistsWithoutData => false;

    /// <summary>The outbox usage falls back to, if any.</summary>
    public UsageOutbox? Outbox => outbox;

    public async Task<CustomerSnapshot?> FetchAsync(CustomerKey key, bool fresh, CancellationToken cancellationToken)
    {
        try
        {
            return await client.FetchEntitlementsAsync(key, skipEdge: fresh, cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            throw new SourceUnavailableException(ex.Message, ex);
        }
    }

    /// <summary>
    /// Sends the reports to Stigg and answers its results. Every report carries an idempotency key, assigned here
    /// before the first attempt when it has none, so a report that reached Stigg during a failing call and is then
    /// delivered again from the outbox is counted once. With an outbox: when Stigg is unreachable, or earlier reports
    /// still wait in the outbox (order: a later SET must not overtake an earlier DELTA), the reports are stored
    /// durably and acknowledged locally (see <see cref="AcceptIntoOutboxAsync"/>). A full outbox throws
    /// <see cref="UsageOutboxFullException"/> (RESOURCE_EXHAUSTED).
    /// </summary>
    public async Task<IReadOnlyList<UsageReportResult>> ReportUsageAsync(IReadOnlyList<UsageReport> reports, TieredEntitlementCache cache, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reports);
        ArgumentNullException.ThrowIfNull(cache);
        var keyed = WithIdempotencyKeys(reports);
        if (outbox is { Depth: > 0 })
        {
            return await AcceptIntoOutboxAsync(outbox, keyed, cache, "earlier reports wait in the outbox; delivered in order", cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await client.ReportUsageAsync(keyed, cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex) when (outbox is not null && ex.Failure == UpstreamFailure.Unavailable)
        {
            return await AcceptIntoOutboxAsync(outbox, keyed, cache, ex.Message, cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            throw new SourceUnavailableException("usage could not be reported to Stigg: " + ex.Message, ex);
        }
    }

    /// <summary>Sends raw events; with an outbox, stores them when Stigg is unreachable or earlier entries wait.</summary>
    public async Task ReportEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (outbox is { Depth: > 0 })
        {
            await AppendEventsAsync(outbox, events, "earlier reports wait in the outbox; delivered in order", cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            await client.ReportEventsAsync(events, cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex) when (outbox is not null && ex.Failure == UpstreamFailure.Unavailable)
        {
            await AppendEventsAsync(outbox, events, ex.Message, cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            throw new SourceUnavailableException("events could not be reported to Stigg: " + ex.Message, ex);
        }
    }

    private static IReadOnlyList<UsageReport> WithIdempotencyKeys(IReadOnlyList<UsageReport> reports)
    {
        UsageReport[]? copy = null;
        for (var i = 0; i < reports.Count; i++)
        {
            if (reports[i] is { } r && string.IsNullOrEmpty(r.IdempotencyKey))
            {
                copy ??= [.. reports];
                copy[i] = r with { IdempotencyKey = NanoId.New() };
            }
        }

        return copy ?? reports;
    }

    /// <summary>
    /// Stores the reports in the outbox (durable when this returns) and answers one result per report: the measurement
    /// id is the idempotency key, and when the customer's feature is held in the hot tier, <c>CurrentUsage</c> is the
    /// local estimate — the held usage plus the delta, or the SET value — so checks see the usage at once.
    /// </summary>
    /// <remarks>
    /// The estimate's <c>Timestamp</c> is the usage timestamp already held, not the clock. The cache drops a usage
    /// update older than the held one (DESIGN decision 2), so an equal timestamp is applied; and when the outbox later
    /// delivers the report, Stigg's absolute answer carries Stigg's own, later timestamp and replaces the estimate. Had
    /// the estimate been stamped "now" by our clock, a server timestamp behind it (clock skew, or a usage event about
    /// an earlier report) would be dropped as older and the estimate would stick. For the same reason an event or a
    /// revalidation in between replaces the estimate with Stigg's value, which does not count the waiting reports yet:
    /// the estimate bridges the outage, Stigg stays the truth. Only the hot tier is read: a miss would ask Stigg,
    /// which is down. Credits are not estimated (Stigg's answer on delivery brings the balance).
    /// </remarks>
    private async Task<IReadOnlyList<UsageReportResult>> AcceptIntoOutboxAsync(UsageOutbox box, IReadOnlyList<UsageReport> reports, TieredEntitlementCache cache, string reason, CancellationToken cancellationToken)
    {
        IReadOnlyList<OutboxEntry> entries;
        try
        {
            entries = await box.AppendUsageAsync(reports, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not UsageOutboxFullException and not ArgumentException and not OperationCanceledException)
        {
            throw new SourceUnavailableException($"usage could not be reported to Stigg ({reason}) nor stored in the outbox: {ex.Message}", ex);
        }

        OutboxLogMessages.AcceptedDuringOutage(_logger, entries.Count, "usage", reason);
        var now = cache.NowMs;
        var tally = new UsageTally();
        var results = new UsageReportResult[entries.Count];
        for (var i = 0; i < results.Length; i++)
        {
            var report = entries[i].Usage!;
            var key = new CustomerKey(report.CustomerId, report.ResourceId);
            double? usage = null;
            long? timestamp = null;
            if (cache.Hot.TryGet(key, out var snapshot) && !snapshot.IsExpired(now) && snapshot.TryGetFeature(report.FeatureId, out var feature))
            {
                usage = tally.Apply(key, report, feature.CurrentUsage);
                timestamp = feature.UsageUpdatedAt;
            }

            results[i] = new UsageReportResult
            {
                MeasurementId = report.IdempotencyKey!,
                CustomerId = report.CustomerId,
                ResourceId = report.ResourceId,
                FeatureId = report.FeatureId,
                CurrentUsage = usage,
                Timestamp = timestamp,
            };
        }

        return results;
    }

    private async Task AppendEventsAsync(UsageOutbox box, IReadOnlyList<RawEvent> events, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await box.AppendEventsAsync(events, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not UsageOutboxFullException and not ArgumentException and not OperationCanceledException)
        {
            throw new SourceUnavailableException($"events could not be reported to Stigg ({reason}) nor stored in the outbox: {ex.Message}", ex);
        }

        OutboxLogMessages.AcceptedDuringOutage(_logger, events.Count, "event", reason);
    }
}
