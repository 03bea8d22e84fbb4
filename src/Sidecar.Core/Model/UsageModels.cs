namespace Sidecar.Core.Model;

/// <summary>How a reported value combines with the current usage (Stigg's <c>UsageUpdateBehavior</c>).</summary>
public enum UsageUpdateBehavior
{
    /// <summary>Add the value (may be negative). Stigg's default.</summary>
    Delta,

    /// <summary>Replace the current usage with the value.</summary>
    Set,
}

/// <summary>
/// One usage measurement for <c>ReportUsage</c>/<c>ReportUsageBulk</c> (stigg-behaviour §8.1).
/// <see cref="Dimensions"/> values must be strings, numbers or booleans (or null).
/// </summary>
public sealed record UsageReport
{
    public required string CustomerId { get; init; }
    public string? ResourceId { get; init; }
    public required string FeatureId { get; init; }
    public double Value { get; init; }
    public UsageUpdateBehavior UpdateBehavior { get; init; } = UsageUpdateBehavior.Delta;

    /// <summary>When the usage happened (epoch ms); Stigg uses the receive time when absent.</summary>
    public long? CreatedAt { get; init; }

    public IReadOnlyDictionary<string, object?>? Dimensions { get; init; }
    public string? IdempotencyKey { get; init; }
}

/// <summary>Stigg's acknowledgement of one usage measurement; instants are epoch ms.</summary>
public sealed record UsageReportResult
{
    public required string MeasurementId { get; init; }
    public required string CustomerId { get; init; }
    public string? ResourceId { get; init; }
    public required string FeatureId { get; init; }

    /// <summary>The absolute usage after this measurement, as the server computed it.</summary>
    public double? CurrentUsage { get; init; }

    public long? UsagePeriodStart { get; init; }
    public long? UsagePeriodEnd { get; init; }

    /// <summary>The server's timestamp of the measurement: the version guard for the cached usage.</summary>
    public long? Timestamp { get; init; }

    /// <summary>The credit balance the measurement drew from, for credit-backed features.</summary>
    public CreditUsageResult? Credit { get; init; }

    /// <summary>
    /// The cache write Stigg's SDK does after a successful report (§8.2): the absolute usage of the feature, or null
    /// when the server returned no usage.
    /// </summary>
    public UsageUpdate? ToFeatureUpdate(long nowMs) => CurrentUsage is { } usage
        ? new UsageUpdate(EntitlementRefType.Feature, FeatureId, usage, UsagePeriodStart, UsagePeriodEnd, Timestamp ?? nowMs)
        : null;
}

/// <summary>The credit part of a usage acknowledgement.</summary>
public sealed record CreditUsageResult
{
    public required string CurrencyId { get; init; }
    public double CurrentUsage { get; init; }
    public long? Timestamp { get; init; }
    public long? UsagePeriodEnd { get; init; }

    /// <summary>The matching credit cache write (§8.2): no period start, the credit's own timestamp.</summary>
    public UsageUpdate ToUpdate(long nowMs) =>
        new(EntitlementRefType.Credit, CurrencyId, CurrentUsage, null, UsagePeriodEnd, Timestamp ?? nowMs);
}

/// <summary>A raw event for <c>ReportEvent</c>: aggregated by Stigg's meters server-side; the cache is not touched.</summary>
public sealed record RawEvent
{
    public required string EventName { get; init; }
    public required string CustomerId { get; init; }

    /// <summary>Required by Stigg: a retried event with the same key is counted once.</summary>
    public required string IdempotencyKey { get; init; }

    public string? ResourceId { get; init; }
    public IReadOnlyDictionary<string, object?>? Dimensions { get; init; }

    /// <summary>When the event happened (epoch ms).</summary>
    public long? Timestamp { get; init; }
}
