namespace Sidecar.Upstream.Outbox;

/// <summary>Settings of a <see cref="UsageOutbox"/>.</summary>
public sealed class UsageOutboxOptions
{
    /// <summary>The default <see cref="MaxBytes"/>: 64 MiB (about 300 000 typical reports).</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Where the log lives (the host passes <c>&lt;CACHE_DIR&gt;/outbox</c>). Null: in memory only
    /// (<c>CACHE_PERSISTENCE=none</c>) — the same behaviour without crash safety.
    /// </summary>
    public string? Directory { get; init; }

    /// <summary>How many bytes of undelivered entries may be held; beyond it appends throw <see cref="UsageOutboxFullException"/>.</summary>
    public long MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>How many entries one delivery sends at most (one <c>ReportUsageBulk</c> or <c>ReportEvent</c>).</summary>
    public int MaxBatchSize { get; init; } = 100;

    /// <summary>The first wait after a failed delivery; doubled per failure in a row (plus up to 20 % jitter).</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two delivery attempts: after an outage ends, delivery resumes within it.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The dead-letter file is rotated (one previous file kept) when it grows beyond this.</summary>
    public long MaxDeadLetterBytes { get; init; } = 16L * 1024 * 1024;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytes, 4096, nameof(MaxBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchSize, 1, nameof(MaxBatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryBaseDelay, TimeSpan.Zero, nameof(RetryBaseDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMaxDelay, RetryBaseDelay, nameof(RetryMaxDelay));
    }
}
