using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Faster.Internal;

using Store = FasterKV<SpanByte, SpanByte>;

/// <summary>
/// Checkpoints and compaction of the store, one step at a time: a fold-over checkpoint (hybrid log + index) when
/// anything changed since the last one, then — when the log span exceeds the disk bound — lookup compaction, a second
/// checkpoint recording the new begin address, and only then the truncation of the old segments.
/// </summary>
internal sealed class FasterMaintenance(Store store, SessionPool sessions, long maxDiskBytes, ILogger logger, TimeProvider time) : IDisposable
{
    private readonly SemaphoreSlim _step = new(1, 1);
    private long _mutations;
    private long _checkpointedMutations;

    /// <summary>Counts a change to the store, so the next checkpoint is not skipped as "nothing changed".</summary>
    public void RecordMutation() => Interlocked.Increment(ref _mutations);

    /// <summary>A checkpoint if anything changed. Failures are logged and answered as false.</summary>
    public Task<bool> CheckpointAsync(CancellationToken cancellationToken) =>
        StepAsync(static m => m.CheckpointCoreAsync(), cancellationToken);

    /// <summary>A checkpoint if anything changed, then compaction when needed; true when a compaction ran.</summary>
    public Task<bool> MaintainAsync(CancellationToken cancellationToken) =>
        StepAsync(
            static async m =>
            {
                await m.CheckpointCoreAsync().ConfigureAwait(false);
                return await m.CompactIfNeededAsync().ConfigureAwait(false);
            },
            cancellationToken);

    /// <summary>The checkpoint at close: waits for a running step, never cancelled; a failure is logged.</summary>
    public async Task<bool> FinalCheckpointAsync()
    {
        await _step.WaitAsync().ConfigureAwait(false);
        try
        {
            return await CheckpointCoreAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.FinalCheckpointFailed(logger, ex);
            return false;
        }
        finally
        {
            _step.Release();
        }
    }

    public void Dispose() => _step.Dispose();

    /// <summary>Runs one step after any running one; a failure is logged and answered as false (the next interval tries again).</summary>
    private async Task<bool> StepAsync(Func<FasterMaintenance, Task<bool>> step, CancellationToken cancellationToken)
    {
        try
        {
            await _step.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await step(this).ConfigureAwait(false);
            }
            finally
            {
                _step.Release();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.MaintenanceFailed(logger, ex);
            return false;
        }
    }

    /// <summary>Caller holds <see cref="_step"/>. Not cancellable once started: FASTER's checkpoint state machine must finish.</summary>
    private async Task<bool> CheckpointCoreAsync(bool force = false)
    {
        var mutations = Interlocked.Read(ref _mutations);
        if (!force && mutations == _checkpointedMutations)
        {
            return false;
        }

        var started = time.GetTimestamp();
        var (success, token) = await store.TakeFullCheckpointAsync(CheckpointType.FoldOver).ConfigureAwait(false);
        if (!success)
        {
            Log.CheckpointBusy(logger);
            return false;
        }

        _checkpointedMutations = mutations;
        Log.CheckpointTaken(logger, token, store.CurrentVersion - 1, store.Log.TailAddress, time.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }

    /// <summary>Caller holds <see cref="_step"/>, right after a checkpoint.</summary>
    private async Task<bool> CompactIfNeededAsync()
    {
        var bound = maxDiskBytes;
        var begin = store.Log.BeginAddress;
        var tail = store.Log.TailAddress;
        if (tail - begin <= bound)
        {
            return false;
        }

        var until = Math.Min(store.Log.SafeReadOnlyAddress, tail - (bound / 2));
        if (until <= begin)
        {
            return false;
        }

        var started = time.GetTimestamp();

        // Lookup compaction scans the old region synchronously (with blocking disk reads): keep it off the pool.
        await Task.Factory.StartNew(
            () =>
            {
                var lease = sessions.Rent();
                var healthy = false;
                try
                {
                    lease.Session.Compact(until, CompactionType.Lookup);
                    healthy = true;
                }
                finally
                {
                    sessions.Return(lease, healthy);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).ConfigureAwait(false);

        // Persist the new begin address before deleting anything the previous checkpoint still needs.
        if (!await CheckpointCoreAsync(force: true).ConfigureAwait(false))
        {
            return false;
        }

        // Deletes the segments wholly below the new begin address (FASTER does the file deletes on a background task).
        store.Log.Truncate();
        Log.Compacted(logger, begin, store.Log.BeginAddress, store.Log.TailAddress, bound, time.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }
}
