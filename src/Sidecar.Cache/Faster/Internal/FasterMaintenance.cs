using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Faster.Internal;

/// <summary>
/// Checkpoints, compaction and index growth of one store, one step at a time: a fold-over checkpoint (hybrid log +
/// index) when anything changed since the last one, its manifest (digests of what a start will read), then — when the
/// log span exceeds the disk bound — lookup compaction, a second checkpoint recording the new begin address, and only
/// then the truncation of the old segments; and when the index holds more than four entries per bucket, a doubling.
/// A checkpoint that fails or does not finish within its deadline faults the store (the disk is not taking writes).
/// </summary>
internal sealed class FasterMaintenance(FasterStore store, FasterTierOptions options, ILogger logger, TimeProvider time) : IDisposable
{
    /// <summary>Entries per 64-byte bucket (7 slots) above which the index doubles: chains stay short, the index stays sized to the data.</summary>
    private const int EntriesPerBucketBeforeGrowth = 4;

    private readonly SemaphoreSlim _step = new(1, 1);
    private long _mutations;
    private long _checkpointedMutations;
    private CheckpointManifest? _manifest;

    /// <summary>Number of entries in the index after the last maintenance step (live keys plus not-yet-compacted versions).</summary>
    public long IndexEntries { get; private set; }

    /// <summary>
    /// Counts a change to the store, so the next checkpoint is not skipped as "nothing changed". Every 4096 changes the
    /// index is checked for growth at once, so a burst of new customers does not walk long bucket chains until the
    /// next maintenance step.
    /// </summary>
    public void RecordMutation()
    {
        if ((Interlocked.Increment(ref _mutations) & 4095) == 0 && store.Kv.IndexSize < options.EffectiveMaxIndexBuckets)
        {
            _ = Task.Run(GrowSoonAsync);
        }
    }

    /// <summary>The checkpoint a start recovered: its manifest's log chunks are reused by the next one.</summary>
    public void Recovered(CheckpointManifest manifest) => _manifest = manifest;

    /// <summary>A checkpoint if anything changed. False when nothing changed, the store is faulted, or it failed.</summary>
    public Task<bool> CheckpointAsync(CancellationToken cancellationToken) =>
        StepAsync(static m => m.CheckpointCoreAsync(m.Options.CheckpointTimeout), cancellationToken);

    /// <summary>A checkpoint if anything changed, then compaction and index growth when needed; true when a compaction ran.</summary>
    public Task<bool> MaintainAsync(CancellationToken cancellationToken) =>
        StepAsync(
            static async m =>
            {
                await m.CheckpointCoreAsync(m.Options.CheckpointTimeout).ConfigureAwait(false);
                var compacted = await m.CompactIfNeededAsync().ConfigureAwait(false);
                await m.GrowIndexIfNeededAsync().ConfigureAwait(false);
                return compacted;
            },
            cancellationToken);

    /// <summary>The checkpoint at close, within <see cref="FasterTierOptions.FinalCheckpointTimeout"/> (waiting for a running step counts).</summary>
    public async Task<bool> FinalCheckpointAsync()
    {
        var deadline = time.GetTimestamp();
        if (!await _step.WaitAsync(Options.FinalCheckpointTimeout).ConfigureAwait(false))
        {
            store.TryFault($"a maintenance step was still running after {Options.FinalCheckpointTimeout.TotalSeconds:0.#} s at shutdown");
            return false;
        }

        try
        {
            var left = Options.FinalCheckpointTimeout - time.GetElapsedTime(deadline);
            return left > TimeSpan.Zero && await CheckpointCoreAsync(left).ConfigureAwait(false);
        }
        finally
        {
            _step.Release();
        }
    }

    public void Dispose() => _step.Dispose();

    private FasterTierOptions Options => options;

    /// <summary>Runs one step after any running one; a failure is logged and answered as false (the next interval tries again).</summary>
    private async Task<bool> StepAsync(Func<FasterMaintenance, Task<bool>> step, CancellationToken cancellationToken)
    {
        try
        {
            await _step.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return !store.Faulted && await step(this).ConfigureAwait(false);
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

    /// <summary>
    /// Caller holds <see cref="_step"/>. FASTER's checkpoint state machine cannot be cancelled: one that misses its
    /// deadline (a flush that will never complete) faults the store instead, and is left behind with it.
    /// </summary>
    private async Task<bool> CheckpointCoreAsync(TimeSpan deadline, bool force = false)
    {
        var mutations = Interlocked.Read(ref _mutations);
        if (store.Faulted || (!force && mutations == _checkpointedMutations))
        {
            return false;
        }

        if (ProbeDirectory() is { } problem)
        {
            store.TryFault(problem);
            return false;
        }

        var started = time.GetTimestamp();
        bool success;
        Guid token;
        try
        {
            (success, token) = await store.Kv.TakeFullCheckpointAsync(CheckpointType.FoldOver)
                .AsTask()
                .WaitAsync(deadline, time, store.FaultedToken)
                .ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (store.Faulted)
        {
            return false;
        }
        catch (TimeoutException)
        {
            store.TryFault($"a checkpoint did not complete within {deadline.TotalSeconds:0.#} s");
            return false;
        }
        catch (Exception ex)
        {
            store.TryFault($"a checkpoint failed: {ex.Message}");
            return false;
        }

        if (!success)
        {
            Log.CheckpointBusy(logger);
            return false;
        }

        try
        {
            var manifest = CheckpointManifest.Build(store.Layout, store.Parts.CheckpointManager, token, options.EffectiveSegmentBytes, _manifest);
            manifest.Write(store.Layout);
            FasterStoreFiles.MakeCurrent(store.Layout, logger);
            FasterStoreFiles.PurgeCheckpointsExcept(store.Layout, token);
            _manifest = manifest;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            store.TryFault($"writing the checkpoint's manifest failed: {ex.Message}");
            return false;
        }

        _checkpointedMutations = mutations;
        Log.CheckpointTaken(logger, token, store.Kv.CurrentVersion - 1, store.Kv.Log.TailAddress, time.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }

    /// <summary>A directory that was deleted or became read-only is found before FASTER's checkpoint tries to create files in it.</summary>
    private string? ProbeDirectory()
    {
        var layout = store.Layout;
        if (!Directory.Exists(layout.Log) || !Directory.Exists(layout.Checkpoints))
        {
            return $"the directory {layout.Directory} is gone";
        }

        return DiskProbe.WriteFails(layout.Directory, 0) is { } refusal ? $"the directory {layout.Directory} cannot be written: {refusal}" : null;
    }

    /// <summary>Caller holds <see cref="_step"/>, right after a checkpoint.</summary>
    private async Task<bool> CompactIfNeededAsync()
    {
        var kv = store.Kv;
        var bound = options.EffectiveMaxDiskBytes;
        var begin = kv.Log.BeginAddress;
        var tail = kv.Log.TailAddress;
        if (store.Faulted || tail - begin <= bound)
        {
            return false;
        }

        var until = Math.Min(kv.Log.SafeReadOnlyAddress, tail - (bound / 2));
        if (until <= begin)
        {
            return false;
        }

        var started = time.GetTimestamp();

        // Lookup compaction scans the old region synchronously (with blocking disk reads): keep it off the pool.
        await RunLongAsync(() =>
        {
            var lease = store.Sessions.Rent();
            var healthy = false;
            try
            {
                lease.Session.Compact(until, CompactionType.Lookup);
                healthy = true;
            }
            finally
            {
                store.Sessions.Return(lease, healthy);
            }
        }).ConfigureAwait(false);

        // Persist the new begin address before deleting anything the previous checkpoint still needs.
        if (!await CheckpointCoreAsync(options.CheckpointTimeout, force: true).ConfigureAwait(false))
        {
            return false;
        }

        // Deletes the segments wholly below the new begin address (FASTER does the file deletes on a background task).
        kv.Log.Truncate();
        Log.Compacted(logger, begin, kv.Log.BeginAddress, kv.Log.TailAddress, bound, time.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }

    /// <summary>
    /// Caller holds <see cref="_step"/>. The index starts small and doubles while it holds more than
    /// <see cref="EntriesPerBucketBeforeGrowth"/> entries per bucket, up to <see cref="FasterTierOptions.EffectiveMaxIndexBuckets"/>,
    /// so every checkpoint writes an index sized to what is stored. A grown index is checkpointed at once.
    /// </summary>
    private async Task GrowIndexIfNeededAsync()
    {
        var kv = store.Kv;
        IndexEntries = kv.EntryCount;
        if (store.Faulted || kv.IndexSize >= options.EffectiveMaxIndexBuckets || IndexEntries <= kv.IndexSize * EntriesPerBucketBeforeGrowth)
        {
            return;
        }

        var before = kv.IndexSize;
        var grown = false;
        await RunLongAsync(() => grown = kv.GrowIndex()).ConfigureAwait(false);
        if (grown)
        {
            Log.IndexGrown(logger, before, kv.IndexSize, IndexEntries);
            await CheckpointCoreAsync(options.CheckpointTimeout, force: true).ConfigureAwait(false);
        }
    }

    private async Task GrowSoonAsync()
    {
        if (!store.Gate.TryEnter())
        {
            return;
        }

        try
        {
            if (await _step.WaitAsync(0).ConfigureAwait(false))
            {
                try
                {
                    await GrowIndexIfNeededAsync().ConfigureAwait(false);
                }
                finally
                {
                    _step.Release();
                }
            }
        }
        catch (Exception ex)
        {
            Log.MaintenanceFailed(logger, ex);
        }
        finally
        {
            store.Gate.Exit();
        }
    }

    private static Task RunLongAsync(Action work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
