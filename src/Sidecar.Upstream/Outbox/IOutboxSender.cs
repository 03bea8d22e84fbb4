using Sidecar.Core.Model;

namespace Sidecar.Upstream.Outbox;

/// <summary>
/// Where <see cref="UsageOutbox"/> delivers to: Stigg's API in production (<see cref="StiggApiClient"/>), anything in
/// tests. An <see cref="UpstreamException"/> with <see cref="UpstreamFailure.InvalidResponse"/> (or an
/// <see cref="ArgumentException"/>) means "rejected for good"; any other exception is transient and retried.
/// </summary>
public interface IOutboxSender
{
    /// <summary>Sends the reports (each with its idempotency key); returns Stigg's results in the same order.</summary>
    Task<IReadOnlyList<UsageReportResult>> SendUsageAsync(IReadOnlyList<UsageReport> reports, CancellationToken cancellationToken);

    /// <summary>Sends raw events.</summary>
    Task SendEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken);
}

/// <summary>What one <see cref="UsageOutbox.DeliverOnceAsync"/> did.</summary>
/// <param name="Delivered">Entries Stigg accepted (and that were truncated).</param>
/// <param name="Rejected">Entries Stigg rejected for good, set aside in the dead-letter file.</param>
/// <param name="Quarantined">Damaged entries (unreadable bytes) set aside.</param>
/// <param name="TransientFailure">Why nothing was delivered this time; the entries stay and are retried.</param>
public readonly record struct OutboxDeliveryResult(int Delivered, int Rejected, int Quarantined, Exception? TransientFailure)
{
    /// <summary>Nothing was done: the outbox had no durable entry to deliver.</summary>
    public bool Idle => Delivered == 0 && Rejected == 0 && Quarantined == 0 && TransientFailure is null;
}

/// <summary>Delivers to Stigg with the API client (its retries and circuit breaker apply to each batch).</summary>
internal sealed class StiggOutboxSender(StiggApiClient client) : IOutboxSender
{
    public Task<IReadOnlyList<UsageReportResult>> SendUsageAsync(IReadOnlyList<UsageReport> reports, CancellationToken cancellationToken) =>
        client.ReportUsageAsync(reports, cancellationToken);

    public Task SendEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken) =>
        client.ReportEventsAsync(events, cancellationToken);
}
