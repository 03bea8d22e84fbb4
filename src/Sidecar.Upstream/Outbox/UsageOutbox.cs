using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Model;
using Sidecar.Upstream.Outbox.Internal;

namespace Sidecar.Upstream.Outbox;

/// <summary>
/// The durable usage outbox (DESIGN decision 9): usage reports and raw events that could not reach Stigg, kept in
/// order with their idempotency keys until they are delivered.
/// <list type="bullet">
/// <item><b>Accepted = durable.</b> <see cref="AppendUsageAsync"/>/<see cref="AppendEventsAsync"/> return only once the
/// entries are committed to disk (see <c>FasterOutboxLog</c> for which call gives <c>kill -9</c> safety); concurrent
/// appends share one commit. Every entry carries an idempotency key (assigned here when it has none), which is also
/// the measurement id it is acknowledged with.</item>
/// <item><b>Bounded.</b> Beyond <see cref="UsageOutboxOptions.MaxBytes"/> an append throws
/// <see cref="UsageOutboxFullException"/>: never a silent drop.</item>
/// <item><b>Delivery.</b> <see cref="RunDeliveryAsync(IOutboxSender, Func{IReadOnlyList{UsageReportResult}, CancellationToken, ValueTask}?, CancellationToken)"/>
/// (the host's hosted service) sends in order, in batches of one kind, truncates what Stigg accepted (durably), keeps
/// the rest on a transient failure and backs off, and sets aside what Stigg rejects for good into
/// <c>dead-letter.jsonl</c> (logged once, counted). A resend after a crash is harmless: Stigg dedupes by key.</item>
/// <item><b>Recovery.</b> Opening recovers everything committed and not truncated; damaged bytes are set aside with a
/// log line, never delivered, never a crash.</item>
/// </list>
/// </summary>
public sealed partial class UsageOutbox : IDisposable
{
    private readonly OutboxLog _log;
    private readonly UsageOutboxOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DeadLetterFile _deadLetter;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _appended = new(0, 1);
    private readonly SemaphoreSlim _delivering = new(1, 1);
    private long _depth;
    private long _bytes;
    private long _oldestAcceptedAt;
    private long _delivered;
    private long _rejected;
    private long _quarantined;
    private long _isolateUntil;
    private int _disposed;

    private UsageOutbox(OutboxLog log, UsageOutboxOptions options, ILogger logger, TimeProvider time)
    {
        _log = log;
        _options = options;
        _logger = logger;
        _time = time;
        _deadLetter = new DeadLetterFile(options.Directory, options.MaxDeadLetterBytes);
    }

    /// <summary>Whether appends survive a crash (false for the in-memory variant).</summary>
    public bool IsDurable => _log is FasterOutboxLog;

    /// <summary>Entries accepted and not yet delivered or set aside (including appends in flight).</summary>
    public long Depth => Volatile.Read(ref _depth);

    /// <summary>Bytes those entries hold against <see cref="CapacityBytes"/>.</summary>
    public long SizeBytes => Volatile.Read(ref _bytes);

    /// <summary>The size limit (<see cref="UsageOutboxOptions.MaxBytes"/>).</summary>
    public long CapacityBytes => _options.MaxBytes;

    /// <summary>How long the oldest undelivered entry has waited; zero when the outbox is empty.</summary>
    public TimeSpan OldestEntryAge
    {
        get
        {
            var oldest = Volatile.Read(ref _oldestAcceptedAt);
            if (oldest == 0 || Depth == 0)
            {
                return TimeSpan.Zero;
            }

            var age = _time.GetUtcNow().ToUnixTimeMilliseconds() - oldest;
            return age > 0 ? TimeSpan.FromMilliseconds(age) : TimeSpan.Zero;
        }
    }

    /// <summary>Entries Stigg accepted from the outbox since this process started.</summary>
    public long DeliveredCount => Interlocked.Read(ref _delivered);

    /// <summary>Entries Stigg rejected for good, set aside in the dead-letter file, since this process started.</summary>
    public long RejectedCount => Interlocked.Read(ref _rejected);

    /// <summary>Damaged entries (torn or corrupted bytes) set aside since this process started.</summary>
    public long QuarantinedCount => Interlocked.Read(ref _quarantined);

    /// <summary>The dead-letter file (under the outbox directory), or a note that there is none (in memory).</summary>
    public string DeadLetterLocation => _deadLetter.Location;

    /// <summary>
    /// Opens the outbox: in <see cref="UsageOutboxOptions.Directory"/> (created if needed; what a previous run left
    /// undelivered is recovered), or in memory when it is null. Never throws because of what is on disk: a log that
    /// cannot be opened is moved to <c>corrupt/</c> (logged) and the outbox starts empty. Throws
    /// <see cref="IOException"/>/<see cref="UnauthorizedAccessException"/> when the directory cannot be written.
    /// </summary>
    public static UsageOutbox Open(UsageOutboxOptions options, ILogger logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        var time = timeProvider ?? TimeProvider.System;
        if (options.Directory is null)
        {
            OutboxLogMessages.OpenedInMemory(logger);
            return new UsageOutbox(new MemoryOutboxLog(), options, logger, time);
        }

        Directory.CreateDirectory(options.Directory);
        var log = FasterOutboxLog.Open(options.Directory, out var quarantined, out var failure, out var repairedPages);
        if (quarantined is not null)
        {
            OutboxLogMessages.OpenFailed(logger, failure!, options.Directory, quarantined);
        }

        if (repairedPages > 0)
        {
            OutboxLogMessages.LengthHeadersRepaired(logger, repairedPages, "a damaged length header");
        }

        var outbox = new UsageOutbox(log, options, logger, time) { _quarantined = repairedPages };
        try
        {
            outbox.CountRecovered(log);
        }
        catch
        {
            log.Dispose();
            throw;
        }

        OutboxLogMessages.Opened(logger, options.Directory, outbox.Depth, outbox.SizeBytes);
        return outbox;
    }

    /// <summary>The in-memory variant (<c>CACHE_PERSISTENCE=none</c>): same order, limit and delivery; lost on exit.</summary>
    public static UsageOutbox CreateInMemory(UsageOutboxOptions? options, ILogger logger, TimeProvider? timeProvider = null) =>
        Open(new UsageOutboxOptions
        {
            Directory = null,
            MaxBytes = options?.MaxBytes ?? UsageOutboxOptions.DefaultMaxBytes,
            MaxBatchSize = options?.MaxBatchSize ?? 100,
            RetryBaseDelay = options?.RetryBaseDelay ?? TimeSpan.FromSeconds(1),
            RetryMaxDelay = options?.RetryMaxDelay ?? TimeSpan.FromSeconds(30),
        }, logger, timeProvider);

    /// <summary>
    /// Stores usage reports durably, in order. Returns the stored entries: each report with its idempotency key (the
    /// one it had, or a new nanoid), which is also its measurement id. Throws <see cref="UsageOutboxFullException"/>
    /// when they do not fit (none is stored), <see cref="ArgumentException"/> for a report Stigg could never accept.
    /// </summary>
    public Task<IReadOnlyList<OutboxEntry>> AppendUsageAsync(IReadOnlyList<UsageReport> reports, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var now = NowMs();
        var entries = new OutboxEntry[reports.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            var r = reports[i];
            ArgumentNullException.ThrowIfNull(r, nameof(reports));
            ArgumentException.ThrowIfNullOrEmpty(r.CustomerId, nameof(reports));
            ArgumentException.ThrowIfNullOrEmpty(r.FeatureId, nameof(reports));
            entries[i] = new OutboxEntry
            {
                Address = 0,
                Kind = OutboxEntryKind.Usage,
                AcceptedAt = now,
                Usage = string.IsNullOrEmpty(r.IdempotencyKey) ? r with { IdempotencyKey = NanoId.New() } : r,
            };
        }

        return AppendAsync(entries, cancellationToken);
    }

    /// <summary>Stores raw events durably, in order (each already carries its idempotency key). Same failures as usage.</summary>
    public Task<IReadOnlyList<OutboxEntry>> AppendEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        var now = NowMs();
        var entries = new OutboxEntry[events.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            var e = events[i];
            ArgumentNullException.ThrowIfNull(e, nameof(events));
            ArgumentException.ThrowIfNullOrEmpty(e.EventName, nameof(events));
            ArgumentException.ThrowIfNullOrEmpty(e.CustomerId, nameof(events));
            ArgumentException.ThrowIfNullOrEmpty(e.IdempotencyKey, nameof(events));
            entries[i] = new OutboxEntry { Address = 0, Kind = OutboxEntryKind.Event, AcceptedAt = now, Event = e };
        }

        return AppendAsync(entries, cancellationToken);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _log.Dispose();
        _appended.Dispose();
        _delivering.Dispose();
    }

    private async Task<IReadOnlyList<OutboxEntry>> AppendAsync(OutboxEntry[] entries, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        if (entries.Length == 0)
        {
            return entries;
        }

        var payloads = new byte[entries.Length][];
        var bytes = 0L;
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            payloads[i] = OutboxCodec.Encode(e.Kind, e.AcceptedAt, e.Usage, e.Event);
            if (payloads[i].Length > _log.MaxAppendBytes)
            {
                throw new ArgumentException($"A {e.Kind} entry of {payloads[i].Length} bytes is larger than the outbox can store ({_log.MaxAppendBytes}).", nameof(entries));
            }

            bytes += _log.StoredBytes(payloads[i].Length);
        }

        Reserve(entries.Length, bytes, entries[0].AcceptedAt);
        try
        {
            await _log.AppendAsync(payloads, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Release(entries.Length, bytes);
            throw;
        }

        Signal();
        return entries;
    }

    private void Reserve(int count, long bytes, long acceptedAt)
    {
        lock (_gate)
        {
            if (_bytes + bytes > _options.MaxBytes)
            {
                throw new UsageOutboxFullException(_bytes, _options.MaxBytes, (int)Math.Min(bytes, int.MaxValue));
            }

            if (_depth == 0)
            {
                _oldestAcceptedAt = acceptedAt;
            }

            _depth += count;
            _bytes += bytes;
        }
    }

    private void Release(long count, long bytes)
    {
        lock (_gate)
        {
            _depth = Math.Max(0, _depth - count);
            _bytes = Math.Max(0, _bytes - bytes);
            if (_depth == 0)
            {
                _oldestAcceptedAt = 0;
            }
        }
    }

    private void Signal()
    {
        if (_appended.CurrentCount == 0)
        {
            try
            {
                _appended.Release();
            }
            catch (SemaphoreFullException)
            {
                // another append signalled first
            }
        }
    }

    private void CountRecovered(FasterOutboxLog log)
    {
        long depth = 0, bytes = 0, oldest = 0;
        var damaged = 0;
        log.ScanAll(record =>
        {
            depth++;
            bytes += StoredBytesOf(record);
            if (record.Payload is null)
            {
                damaged++;
            }
            else if (oldest == 0 && AcceptedAtOf(record.Payload) is { } acceptedAt)
            {
                oldest = acceptedAt;
            }
        });

        lock (_gate)
        {
            _depth = depth;
            _bytes = bytes;
            _oldestAcceptedAt = depth > 0 ? (oldest != 0 ? oldest : NowMs()) : 0;
        }

        if (damaged > 0)
        {
            OutboxLogMessages.DamageFound(_logger, damaged, "a torn or corrupted write");
        }
    }

    private long StoredBytesOf(OutboxRecord record) =>
        record.Payload is { } payload ? _log.StoredBytes(payload.Length) : Math.Max(0, record.NextAddress - record.Address);

    /// <summary>The acceptance time from an entry's fixed header (offset 2), without decoding the rest.</summary>
    private static long? AcceptedAtOf(byte[] payload) =>
        payload.Length >= 10 && payload[0] == OutboxCodec.FormatVersion ? BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(2, 8)) : null;

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();
}
