using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Model;
using Sidecar.Upstream.Outbox.Internal;

namespace Sidecar.Upstream.Outbox;

/// <summary>The delivery half of the outbox: the loop, one step, a batch, dead letters, truncation, back-off.</summary>
public sealed partial class UsageOutbox
{
    /// <summary>
    /// The host's delivery loop: runs until <paramref name="cancellationToken"/> is cancelled, delivering whatever is
    /// stored (see <see cref="DeliverOnceAsync"/>), waiting for appends when empty and backing off (from
    /// <see cref="UsageOutboxOptions.RetryBaseDelay"/> to <see cref="UsageOutboxOptions.RetryMaxDelay"/>) while Stigg
    /// fails. <paramref name="onDelivered"/> receives Stigg's results for delivered usage, so the cache can hold the
    /// server's absolute usage (e.g. <c>TieredEntitlementCache.ApplyUsageResultsAsync</c>).
    /// </summary>
    public Task RunDeliveryAsync(StiggApiClient client, Func<IReadOnlyList<UsageReportResult>, CancellationToken, ValueTask>? onDelivered, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        return RunDeliveryAsync(new StiggOutboxSender(client), onDelivered, cancellationToken);
    }

    /// <inheritdoc cref="RunDeliveryAsync(StiggApiClient, Func{IReadOnlyList{UsageReportResult}, CancellationToken, ValueTask}?, CancellationToken)"/>
    public async Task RunDeliveryAsync(IOutboxSender sender, Func<IReadOnlyList<UsageReportResult>, CancellationToken, ValueTask>? onDelivered, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sender);
        var failures = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                OutboxDeliveryResult result;
                try
                {
                    result = await DeliverOnceAsync(sender, onDelivered, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // The disk refused a truncation commit, say: nothing was lost (a resend is deduped); back off.
                    result = new OutboxDeliveryResult(0, 0, 0, ex);
                }

                if (result.TransientFailure is { } failure)
                {
                    failures++;
                    var delay = Backoff(failures);
                    if (failures == 1)
                    {
                        OutboxLogMessages.DeliveryFailing(_logger, Depth, (long)delay.TotalMilliseconds, failure.Message);
                    }
                    else
                    {
                        OutboxLogMessages.DeliveryFailingAgain(_logger, failures, (long)delay.TotalMilliseconds, failure.Message);
                    }

                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (failures > 0 && result.Delivered > 0)
                {
                    OutboxLogMessages.DeliveryResumed(_logger, failures);
                    failures = 0;
                }

                if (result.Idle)
                {
                    // Nothing durable to send: wait for an append (checked again after a while in case the signal
                    // raced with the read; a real-time re-check, not a timing of the logic).
                    await _appended.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>
    /// One delivery step: reads the oldest entries (a run of one kind, up to <see cref="UsageOutboxOptions.MaxBatchSize"/>)
    /// and sends them. Accepted: truncated (durably) and, for usage, Stigg's results handed to
    /// <paramref name="onDelivered"/>. Rejected for good (<see cref="UpstreamFailure.InvalidResponse"/>): a batch is
    /// split into single sends to find the entry Stigg refuses, which is written to the dead-letter file, logged and
    /// truncated. Any other failure: nothing changes, the failure is returned. Damaged entries are set aside.
    /// </summary>
    public async Task<OutboxDeliveryResult> DeliverOnceAsync(IOutboxSender sender, Func<IReadOnlyList<UsageReportResult>, CancellationToken, ValueTask>? onDelivered, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sender);
        await _delivering.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await DeliverBatchAsync(sender, onDelivered, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _delivering.Release();
        }
    }

    private async Task<OutboxDeliveryResult> DeliverBatchAsync(IOutboxSender sender, Func<IReadOnlyList<UsageReportResult>, CancellationToken, ValueTask>? onDelivered, CancellationToken cancellationToken)
    {
        var max = _options.MaxBatchSize;
        var records = _log.Read(max + 1); // one more: its acceptance time is the oldest once the batch is gone
        if (records.Count == 0)
        {
            return default;
        }

        // The first record decides the kind of the batch; a damaged one is set aside on its own.
        if (!TryDecode(records[0], out var first, out var damage))
        {
            await SetAsideDamagedAsync(records[0], damage).ConfigureAwait(false);
            return new OutboxDeliveryResult(0, 0, 1, null);
        }

        var isolating = records[0].Address < Interlocked.Read(ref _isolateUntil);
        var limit = isolating ? 1 : max;
        var batch = new List<OutboxEntry>(Math.Min(limit, records.Count)) { first };
        var batchBytes = StoredBytesOf(records[0]);
        for (var i = 1; i < records.Count && batch.Count < limit; i++)
        {
            if (!TryDecode(records[i], out var next, out _) || next.Kind != first.Kind)
            {
                break;
            }

            batch.Add(next);
            batchBytes += StoredBytesOf(records[i]);
        }

        var end = records[batch.Count - 1].NextAddress;
        var following = batch.Count < records.Count && records[batch.Count].Payload is { } p ? AcceptedAtOf(p) : null;

        IReadOnlyList<UsageReportResult>? results = null;
        try
        {
            if (first.Kind == OutboxEntryKind.Usage)
            {
                results = await sender.SendUsageAsync(batch.ConvertAll(static e => e.Usage!), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await sender.SendEventsAsync(batch.ConvertAll(static e => e.Event!), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (IsPermanent(ex))
        {
            if (batch.Count > 1)
            {
                // Which entry did Stigg refuse? Send them one at a time (a resend of the others is deduped by key).
                OutboxLogMessages.Isolating(_logger, batch.Count);
                Interlocked.Exchange(ref _isolateUntil, end);
                return await DeliverBatchAsync(sender, onDelivered, cancellationToken).ConfigureAwait(false);
            }

            var reason = ex.Message;
            try
            {
                _deadLetter.WriteRejected(first, reason, NowMs());
            }
            catch (Exception writeFailure) when (writeFailure is IOException or UnauthorizedAccessException)
            {
                OutboxLogMessages.DeadLetterWriteFailed(_logger, writeFailure, _deadLetter.Location);
            }

            OutboxLogMessages.Rejected(_logger, first.Kind == OutboxEntryKind.Usage ? "usage" : "event", first.IdempotencyKey, first.CustomerId, reason, _deadLetter.Location);
            await TruncateAsync(end, 1, batchBytes, following).ConfigureAwait(false);
            Interlocked.Increment(ref _rejected);
            return new OutboxDeliveryResult(0, 1, 0, null);
        }
        catch (Exception ex)
        {
            return new OutboxDeliveryResult(0, 0, 0, ex);
        }

        await TruncateAsync(end, batch.Count, batchBytes, following).ConfigureAwait(false);
        Interlocked.Add(ref _delivered, batch.Count);
        OutboxLogMessages.Delivered(_logger, batch.Count, first.Kind == OutboxEntryKind.Usage ? "usage" : "event", Depth);

        if (results is { Count: > 0 } && onDelivered is not null)
        {
            try
            {
                await onDelivered(results, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                OutboxLogMessages.CallbackFailed(_logger, ex);
            }
        }

        return new OutboxDeliveryResult(batch.Count, 0, 0, null);
    }

    private static bool IsPermanent(Exception ex) =>
        ex is UpstreamException { Failure: UpstreamFailure.InvalidResponse } or ArgumentException;

    private static bool TryDecode(OutboxRecord record, out OutboxEntry entry, out string damage)
    {
        if (record.Payload is null)
        {
            entry = null!;
            damage = "unreadable bytes in the log (a damaged length header: the rest of its page is set aside)";
            return false;
        }

        try
        {
            entry = OutboxCodec.Decode(record.Payload, record.Address);
            damage = string.Empty;
            return true;
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException)
        {
            entry = null!;
            damage = ex.Message;
            return false;
        }
    }

    private async Task SetAsideDamagedAsync(OutboxRecord record, string reason)
    {
        try
        {
            _deadLetter.WriteDamaged(record.Address, record.NextAddress - record.Address, record.Payload, reason, NowMs());
        }
        catch (Exception writeFailure) when (writeFailure is IOException or UnauthorizedAccessException)
        {
            OutboxLogMessages.DeadLetterWriteFailed(_logger, writeFailure, _deadLetter.Location);
        }

        OutboxLogMessages.Quarantined(_logger, record.Address, record.NextAddress - record.Address, reason, _deadLetter.Location);
        await TruncateAsync(record.NextAddress, 1, StoredBytesOf(record), null).ConfigureAwait(false);
        Interlocked.Increment(ref _quarantined);
    }

    private async Task TruncateAsync(long untilAddress, int count, long bytes, long? nextOldest)
    {
        await _log.TruncateAsync(untilAddress, CancellationToken.None).ConfigureAwait(false);
        lock (_gate)
        {
            _depth = Math.Max(0, _depth - count);
            _bytes = Math.Max(0, _bytes - bytes);
            if (_depth == 0)
            {
                _oldestAcceptedAt = 0;
            }
            else if (nextOldest is { } next)
            {
                _oldestAcceptedAt = next;
            }
        }
    }

    private TimeSpan Backoff(int failures)
    {
        var exponent = Math.Min(failures - 1, 20);
        var ms = _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, exponent);
        ms = Math.Min(ms, _options.RetryMaxDelay.TotalMilliseconds);
        ms *= 1 + (Random.Shared.NextDouble() * 0.2);
        return TimeSpan.FromMilliseconds(Math.Min(ms, _options.RetryMaxDelay.TotalMilliseconds * 1.2));
    }
}
