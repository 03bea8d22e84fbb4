using Sidecar.Core.Model;

namespace Sidecar.Upstream.Outbox;

/// <summary>What an outbox entry holds: one usage report or one raw event.</summary>
public enum OutboxEntryKind : byte
{
    /// <summary>A <see cref="UsageReport"/> (<c>ReportUsage</c>/<c>ReportUsageBulk</c>).</summary>
    Usage = 1,

    /// <summary>A <see cref="RawEvent"/> (<c>ReportEvent</c>).</summary>
    Event = 2,
}

/// <summary>
/// One accepted report waiting for Stigg, as it was stored. Its <see cref="IdempotencyKey"/> is also the measurement id
/// the caller was acknowledged with (one id to follow a report through the logs, the outbox and Stigg's dedupe).
/// </summary>
public sealed record OutboxEntry
{
    /// <summary>Position in the log (monotonic; entries are delivered in this order).</summary>
    public required long Address { get; init; }

    public required OutboxEntryKind Kind { get; init; }

    /// <summary>When the outbox accepted the entry (epoch ms).</summary>
    public required long AcceptedAt { get; init; }

    /// <summary>Set when <see cref="Kind"/> is <see cref="OutboxEntryKind.Usage"/>; it always carries its idempotency key.</summary>
    public UsageReport? Usage { get; init; }

    /// <summary>Set when <see cref="Kind"/> is <see cref="OutboxEntryKind.Event"/>.</summary>
    public RawEvent? Event { get; init; }

    /// <summary>The key Stigg dedupes by; also the local measurement id.</summary>
    public string IdempotencyKey => Usage?.IdempotencyKey ?? Event!.IdempotencyKey;

    public string CustomerId => Usage?.CustomerId ?? Event!.CustomerId;
}
