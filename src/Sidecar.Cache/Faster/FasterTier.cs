using Microsoft.Extensions.Logging;
using Sidecar.Cache.Faster.Internal;
using Sidecar.Core.Model;

namespace Sidecar.Cache.Faster;

/// <summary>
/// The embedded persistent tier: a FASTER KV store (hybrid log — mutable and read-only regions in memory, older
/// records on disk in <see cref="FasterTierOptions.Directory"/>) of encoded customer snapshots, keyed by the UTF-8 of
/// <see cref="CustomerKey.ToString"/>. Keys and values are <c>SpanByte</c> only, which keeps FASTER on its AOT-safe
/// paths (no object log, no DataContractSerializer, no Memory&lt;T&gt; keys).
/// </summary>
/// <remarks>
/// <para>Reads are latch-free: FASTER sessions come from a pool, and a record on disk is fetched with
/// CompletePendingWithOutputsAsync, so no thread waits on I/O. Writes for one key are serialised by a striped async
/// lock so the timestamp guards (read, compare, write) are atomic; writes never update records in place (read-copy-update),
/// so a concurrent reader never sees a torn value.</para>
/// <para>Trust: every record carries a checksum and its key (<see cref="SnapshotCodec"/>), so a damaged record is a
/// miss, removed and counted, never an answer. A start recovers only a checkpoint whose manifest verifies every byte
/// FASTER will read, and quarantines anything else (see <see cref="FasterStoreFiles"/>).</para>
/// <para>Disk trouble: a failed flush, checkpoint or manifest write (disk full, directory deleted, read-only) faults the
/// store — logged once with its cause, <see cref="Degraded"/> — and the tier serves nothing from it and writes nothing to
/// it; the hot tier keeps serving. Each maintenance step then probes the directory and, once it takes writes again,
/// starts a new, empty store generation: persistence resumes. Shutdown waits for nothing longer than
/// <see cref="FasterTierOptions.FinalCheckpointTimeout"/> (plus the same again for operations in flight).</para>
/// <para>Durability: the owner calls <see cref="MaintainAsync"/> every <see cref="FasterTierOptions.CheckpointInterval"/>
/// (a fold-over checkpoint of hybrid log + index when anything changed), and <see cref="DisposeAsync"/> takes a final
/// one. A crash loses at most the writes since the last checkpoint.</para>
/// </remarks>
public sealed class FasterTier : ISnapshotTier
{
    private const int LockStripes = 64;

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _root;
    private readonly SemaphoreSlim[] _stripes = new SemaphoreSlim[LockStripes];
    private FasterStore? _store;
    private string? _degradedCause;
    private long _corruptRecords;
    private long _faults;
    private long _skippedWrites;
    private long _resumes;
    private int _disposed;

    private FasterTier(FasterTierOptions options, ILogger logger, TimeProvider time, string root, OpenedStore opened)
    {
        Options = options;
        _logger = logger;
        _time = time;
        _root = root;
        _store = opened.Store;
        _degradedCause = opened.UnavailableCause;
        RecoveryOutcome = opened.Outcome;
        RecoveredVersion = opened.RecoveredVersion;
        for (var i = 0; i < _stripes.Length; i++)
        {
            _stripes[i] = new SemaphoreSlim(1, 1);
        }
    }

    /// <inheritdoc />
    public string Name => "faster";

    /// <summary>The options the tier was opened with.</summary>
    public FasterTierOptions Options { get; }

    /// <summary>What was found on disk at open.</summary>
    public FasterRecoveryOutcome RecoveryOutcome { get; }

    /// <summary>True when a checkpoint was recovered.</summary>
    public bool Recovered => RecoveryOutcome == FasterRecoveryOutcome.Recovered;

    /// <summary>The checkpoint version recovered at open (0 when none).</summary>
    public long RecoveredVersion { get; }

    /// <summary>Why the tier is not persisting right now (disk full, directory gone, read-only…), or null when it is.</summary>
    public string? DegradedCause => Volatile.Read(ref _degradedCause);

    /// <summary>True while the tier is not persisting; the sidecar serves from memory meanwhile.</summary>
    public bool Degraded => DegradedCause is not null;

    /// <summary>Records that failed their checksum or key check (each a miss, removed).</summary>
    public long CorruptRecords => Interlocked.Read(ref _corruptRecords);

    /// <summary>Times a store stopped persisting because the disk failed it.</summary>
    public long Faults => Interlocked.Read(ref _faults);

    /// <summary>Writes, usage updates and removals not persisted while degraded.</summary>
    public long SkippedWrites => Interlocked.Read(ref _skippedWrites);

    /// <summary>Times persistence resumed on a new store after a fault.</summary>
    public long Resumes => Interlocked.Read(ref _resumes);

    /// <summary>Oldest live log address; everything below it has been compacted away.</summary>
    public long LogBeginAddress => _store?.Kv.Log.BeginAddress ?? 0;

    /// <summary>Records below this address are on disk only (a read costs one I/O).</summary>
    public long LogHeadAddress => _store?.Kv.Log.HeadAddress ?? 0;

    /// <summary>Next log address to be written.</summary>
    public long LogTailAddress => _store?.Kv.Log.TailAddress ?? 0;

    /// <summary>Buckets of the hash index now (it grows with the data).</summary>
    public long IndexBuckets => _store?.Kv.IndexSize ?? 0;

    /// <summary>The directory of the store in use (a generation under <see cref="FasterTierOptions.Directory"/>), or null when none.</summary>
    public string? StoreDirectory => _store?.Layout.Directory;

    /// <summary>
    /// Opens (creating if needed) the store in <see cref="FasterTierOptions.Directory"/> and recovers its latest verified
    /// checkpoint. A missing checkpoint starts empty; a damaged or unverifiable one is logged, moved to <c>corrupt/</c>
    /// and the tier starts empty; a directory that cannot be written gives a tier that persists nothing (degraded, one
    /// warning) — never an exception for what is on disk. Invalid options throw <see cref="ArgumentException"/>.
    /// The tier takes no checkpoints by itself: its owner calls <see cref="MaintainAsync"/> on a timer.
    /// </summary>
    public static async Task<FasterTier> OpenAsync(
        FasterTierOptions options,
        ILogger logger,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();

        var root = Path.GetFullPath(options.Directory);
        FasterTier? tier = null;
        var opened = await FasterStoreFiles.OpenAsync(options, root, logger, timeProvider, (store, cause) => tier?.OnFault(store, cause), cancellationToken).ConfigureAwait(false);
        tier = new FasterTier(options, logger, timeProvider, root, opened);
        if (opened.Store?.Fault is { } early)
        {
            tier.OnFault(opened.Store, early);
        }

        return tier;
    }

    /// <inheritdoc />
    public async ValueTask<CustomerSnapshot?> ReadAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var store = Volatile.Read(ref _store);
        if (store is null || store.Faulted || !store.Gate.TryEnter())
        {
            return null;
        }

        try
        {
            ValueBuffer value;
            var lease = store.Sessions.Rent();
            var healthy = false;
            try
            {
                lease.SetKey(key);
                value = await lease.ReadCurrentAsync().ConfigureAwait(false);
                healthy = true;
            }
            catch (Exception ex)
            {
                Failed(store, ex, "read", key);
                return null;
            }
            finally
            {
                store.Sessions.Return(lease, healthy);
            }

            if (value.Array is null)
            {
                return null;
            }

            try
            {
                var snapshot = SnapshotCodec.Deserialize(value.Span);
                if (snapshot.Key == key)
                {
                    return snapshot;
                }

                Corrupt(new SnapshotFormatException($"The record holds {snapshot.Key} (damaged key)."), key);
            }
            catch (SnapshotFormatException ex)
            {
                Corrupt(ex, key);
            }
            finally
            {
                value.Return();
            }

            await RemoveIfCorruptAsync(key, cancellationToken).ConfigureAwait(false);
            return null;
        }
        finally
        {
            store.Gate.Exit();
        }
    }

    /// <inheritdoc />
    public async ValueTask WriteAsync(CustomerSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        await MutateAsync(snapshot.Key, "write", snapshot, static async (tier, lease, key, snapshot) =>
        {
            var stored = await lease.ReadCurrentAsync().ConfigureAwait(false);
            try
            {
                // The guard needs only the fixed-offset timestamp, not a full decode (a damaged record is overwritten).
                if (stored.Array is not null
                    && SnapshotCodec.TryReadEntitlementsTimestamp(stored.Span, out var storedTimestamp)
                    && snapshot.EntitlementsTimestamp != 0 // epoch 0 (an emptied list) always wins, as in Stigg's Redis guard
                    && storedTimestamp > snapshot.EntitlementsTimestamp)
                {
                    Log.WriteSkippedOlder(tier._logger, key.ToString(), storedTimestamp, snapshot.EntitlementsTimestamp);
                    return false;
                }
            }
            finally
            {
                stored.Return();
            }

            lease.SetValue(snapshot);
            await lease.UpsertCurrentAsync().ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask WriteUsageAsync(CustomerKey key, UsageUpdate update, CancellationToken cancellationToken)
    {
        await MutateAsync(key, "usage write", update, static async (tier, lease, key, update) =>
        {
            var stored = await lease.ReadCurrentAsync().ConfigureAwait(false);
            CustomerSnapshot current;
            try
            {
                if (stored.Array is null)
                {
                    return false;
                }

                current = SnapshotCodec.Deserialize(stored.Span);
                if (current.Key != key)
                {
                    throw new SnapshotFormatException($"The record holds {current.Key} (damaged key).");
                }
            }
            catch (SnapshotFormatException ex)
            {
                // Nothing to apply usage to; the customer is refetched on its next read.
                tier.Corrupt(ex, key);
                await lease.DeleteCurrentAsync().ConfigureAwait(false);
                return true;
            }
            finally
            {
                stored.Return();
            }

            if (current.WithUsage(update) is not { } updated)
            {
                return false;
            }

            lease.SetValue(updated);
            await lease.UpsertCurrentAsync().ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask RemoveAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        await MutateAsync(key, "remove", 0, static async (_, lease, _, _) =>
        {
            await lease.DeleteCurrentAsync().ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes a checkpoint now if anything changed since the last one. False when nothing changed, another checkpoint
    /// was in progress, or the tier is degraded. Never throws for a failed checkpoint (it faults the store).
    /// </summary>
    public Task<bool> CheckpointAsync(CancellationToken cancellationToken) =>
        UnderGateAsync(static (m, ct) => m.CheckpointAsync(ct), cancellationToken);

    /// <summary>
    /// One maintenance step, to be run every <see cref="FasterTierOptions.CheckpointInterval"/>: a checkpoint if
    /// anything changed, then compaction when the log span exceeds the disk bound, then index growth. Returns true when
    /// a compaction ran. While degraded, the step instead probes the directory and resumes persistence on a new store
    /// when it takes writes again. Steps never overlap; a failure is logged and answered as false; false once closed.
    /// </summary>
    public async Task<bool> MaintainAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        var store = Volatile.Read(ref _store);
        if (store is null || store.Faulted)
        {
            TryResume(store);
            return false;
        }

        return await UnderGateAsync(static (m, ct) => m.MaintainAsync(ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Graceful shutdown: waits (bounded) for operations in flight, takes a final checkpoint (bounded), closes the files.</summary>
    public ValueTask DisposeAsync() => CloseAsync(finalCheckpoint: true);

    /// <summary>Closes the store; without the final checkpoint it behaves like a crash after the last checkpoint.</summary>
    internal async ValueTask CloseAsync(bool finalCheckpoint)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var store = Interlocked.Exchange(ref _store, null);
        var checkpointed = false;
        if (store is not null)
        {
            var idle = store.Gate.CloseAsync();
            if (await Task.WhenAny(idle, Task.Delay(Options.FinalCheckpointTimeout, _time)).ConfigureAwait(false) != idle)
            {
                store.TryFault($"operations were still waiting on the disk after {Options.FinalCheckpointTimeout.TotalSeconds:0.#} s at shutdown");
            }

            checkpointed = finalCheckpoint && !store.Faulted && await store.Maintenance.FinalCheckpointAsync().ConfigureAwait(false);
            if (store.Faulted)
            {
                Abandon(store);
            }
            else
            {
                store.Dispose();
            }
        }

        foreach (var stripe in _stripes)
        {
            stripe.Dispose();
        }

        Log.Closed(_logger, _root, checkpointed);
    }

    /// <summary>Called once per store when its disk fails it.</summary>
    private void OnFault(FasterStore store, string cause)
    {
        Interlocked.Increment(ref _faults);
        if (Volatile.Read(ref _store) == store)
        {
            Volatile.Write(ref _degradedCause, cause);
        }

        Log.PersistenceDegraded(_logger, store.Layout.Directory, cause);
    }

    /// <summary>
    /// Starts a new store generation once the directory takes writes again (created if deleted, a probe file of a page
    /// written and removed). The faulted generation is deleted first — its log may be what filled the disk, and what
    /// it holds may be what the disk lost — so a restart before the new one's first checkpoint starts empty.
    /// </summary>
    private void TryResume(FasterStore? faulted)
    {
        if (faulted is not null)
        {
            FasterStoreFiles.DiscardGeneration(faulted.Layout, _logger);
        }

        try
        {
            Directory.CreateDirectory(_root);

            // Room for a new store's first checkpoint of a full in-memory log, so a disk that someone else keeps full
            // does not cycle through new stores that fault again at once.
            var needed = Options.EffectiveMemoryBytes + (Options.EffectiveIndexBuckets * 64);
            var free = new DriveInfo(_root).AvailableFreeSpace;
            var refusal = free < needed ? $"{free} bytes free, {needed} needed to resume" : DiskProbe.WriteFails(_root, (int)Options.EffectivePageBytes);
            if (refusal is not null)
            {
                Log.ResumeProbeFailed(_logger, _root, refusal);
                return;
            }

            var fresh = FasterStoreFiles.CreateGeneration(Options, _root, _logger, _time, OnFault);
            if (Interlocked.CompareExchange(ref _store, fresh, faulted) != faulted)
            {
                fresh.Dispose(); // closed meanwhile
                return;
            }

            Volatile.Write(ref _degradedCause, null);
            Interlocked.Increment(ref _resumes);
            Log.PersistenceResumed(_logger, fresh.Layout.Directory);
            if (faulted is not null)
            {
                Abandon(faulted);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.ResumeProbeFailed(_logger, _root, ex.Message);
        }
    }

    /// <summary>A faulted store may have FASTER waiting on a flush that never completes: dispose it off every caller's path.</summary>
    private static void Abandon(FasterStore store) =>
        _ = Task.Factory.StartNew(store.Dispose, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Corrupt(SnapshotFormatException ex, CustomerKey key)
    {
        Interlocked.Increment(ref _corruptRecords);
        Log.CorruptRecord(_logger, ex, key.ToString());
    }

    /// <summary>An I/O error from FASTER means the disk under this store is failing: fault it (the first cause is logged).</summary>
    private void Failed(FasterStore store, Exception ex, string operation, CustomerKey key)
    {
        if (ex is IOException)
        {
            store.TryFault($"{operation} of {key} failed: {ex.Message}");
        }
        else
        {
            Log.OperationFailed(_logger, ex, operation, key.ToString());
        }
    }

    /// <summary>Runs a maintenance step while the store is open (close waits for it).</summary>
    private async Task<bool> UnderGateAsync(Func<FasterMaintenance, CancellationToken, Task<bool>> step, CancellationToken cancellationToken)
    {
        var store = Volatile.Read(ref _store);
        if (store is null || !store.Gate.TryEnter())
        {
            return false;
        }

        try
        {
            return await step(store.Maintenance, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            store.Gate.Exit();
        }
    }

    /// <summary>Deletes the record if it is still undecodable once the key's write lock is held (a writer may have replaced it).</summary>
    private ValueTask RemoveIfCorruptAsync(CustomerKey key, CancellationToken cancellationToken) =>
        MutateAsync(key, "corrupt record removal", 0, static async (_, lease, key, _) =>
        {
            var stored = await lease.ReadCurrentAsync().ConfigureAwait(false);
            try
            {
                if (stored.Array is null)
                {
                    return false;
                }

                if (SnapshotCodec.Deserialize(stored.Span).Key == key)
                {
                    return false;
                }
            }
            catch (SnapshotFormatException)
            {
                // Still corrupt: fall through to the delete.
            }
            finally
            {
                stored.Return();
            }

            await lease.DeleteCurrentAsync().ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private async ValueTask MutateAsync<TState>(
        CustomerKey key,
        string operation,
        TState state,
        Func<FasterTier, SessionLease, CustomerKey, TState, ValueTask<bool>> mutation,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var store = Volatile.Read(ref _store);
        if (store is null || store.Faulted)
        {
            Interlocked.Increment(ref _skippedWrites);
            return;
        }

        if (!store.Gate.TryEnter())
        {
            return;
        }

        try
        {
            var stripe = _stripes[(uint)key.GetHashCode() % LockStripes];
            await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var lease = store.Sessions.Rent();
                var healthy = false;
                try
                {
                    lease.SetKey(key);

                    // A write can wait forever on a flush the disk refused: it gives up when the store faults.
                    if (await mutation(this, lease, key, state).AsTask().WaitAsync(store.FaultedToken).ConfigureAwait(false))
                    {
                        store.Maintenance.RecordMutation();
                    }

                    healthy = true;
                }
                catch (OperationCanceledException) when (store.Faulted)
                {
                    Interlocked.Increment(ref _skippedWrites);
                    return; // the lease may still be inside FASTER: leave it with the abandoned store
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Failed(store, ex, operation, key);
                }

                store.Sessions.Return(lease, healthy);
            }
            finally
            {
                stripe.Release();
            }
        }
        finally
        {
            store.Gate.Exit();
        }
    }
}
