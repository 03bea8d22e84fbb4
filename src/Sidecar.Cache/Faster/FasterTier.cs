using System.Collections.Concurrent;
using FASTER.core;
using Microsoft.Extensions.Logging;
using Sidecar.Cache.Faster.Internal;
using Sidecar.Core.Model;

namespace Sidecar.Cache.Faster;

using Store = FasterKV<SpanByte, SpanByte>;

/// <summary>What <see cref="FasterTier.OpenAsync"/> found on disk.</summary>
public enum FasterRecoveryOutcome
{
    /// <summary>No checkpoint: the tier started empty.</summary>
    Empty = 0,

    /// <summary>The latest checkpoint was recovered (<see cref="FasterTier.RecoveredVersion"/>).</summary>
    Recovered = 1,

    /// <summary>A checkpoint existed but could not be recovered; its files were moved aside and the tier started empty.</summary>
    CorruptStartedEmpty = 2,
}

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
/// <para>Durability: a fold-over checkpoint (hybrid log + index) every <see cref="FasterTierOptions.CheckpointInterval"/>
/// when anything changed, and one on <see cref="DisposeAsync"/>. A crash loses at most the writes since the last
/// checkpoint; FASTER recovers to the checkpoint's consistent version and ignores the log beyond it.</para>
/// <para>Disk bound: after a checkpoint, when the log span exceeds <see cref="FasterTierOptions.EffectiveMaxDiskBytes"/>,
/// live records below <c>tail − bound / 2</c> are copied forward (lookup compaction), a second checkpoint records
/// the new begin address, and only then are the old segments deleted — a crash at any point recovers a checkpoint
/// whose log is still on disk.</para>
/// </remarks>
public sealed class FasterTier : ISnapshotTier
{
    private const int LockStripes = 64;
    private const string LogDirectoryName = "log";
    private const string CheckpointDirectoryName = "checkpoints";
    private const string QuarantineDirectoryName = "corrupt";
    private const string LogFileName = "hlog";

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _root;
    private readonly Store _store;
    private readonly IDevice _logDevice;
    private readonly DeviceLogCommitCheckpointManager _checkpointManager;
    private readonly SnapshotFunctions _functions = new();
    private readonly ConcurrentQueue<SessionLease> _sessions = new();
    private readonly int _maxPooledSessions = Math.Max(4, Environment.ProcessorCount * 2);
    private readonly SemaphoreSlim[] _stripes = new SemaphoreSlim[LockStripes];
    private readonly SemaphoreSlim _maintenance = new(1, 1);
    private readonly ActivityGate _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _maintenanceLoop;
    private long _mutations;
    private long _checkpointedMutations;
    private int _disposed;

    private FasterTier(
        FasterTierOptions options,
        ILogger logger,
        TimeProvider time,
        string root,
        StoreParts parts,
        FasterRecoveryOutcome outcome,
        long recoveredVersion)
    {
        Options = options;
        _logger = logger;
        _time = time;
        _root = root;
        _store = parts.Store;
        _logDevice = parts.LogDevice;
        _checkpointManager = parts.CheckpointManager;
        RecoveryOutcome = outcome;
        RecoveredVersion = recoveredVersion;
        for (var i = 0; i < _stripes.Length; i++)
        {
            _stripes[i] = new SemaphoreSlim(1, 1);
        }

        // The timer starts now (not when the loop task first runs), so the first tick is one interval after open.
        var timer = new PeriodicTimer(options.CheckpointInterval, time);
        _maintenanceLoop = Task.Run(() => RunMaintenanceLoopAsync(timer, _stop.Token));
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

    /// <summary>Oldest live log address; everything below it has been compacted away.</summary>
    public long LogBeginAddress => _store.Log.BeginAddress;

    /// <summary>Records below this address are on disk only (a read costs one I/O).</summary>
    public long LogHeadAddress => _store.Log.HeadAddress;

    /// <summary>Next log address to be written.</summary>
    public long LogTailAddress => _store.Log.TailAddress;

    /// <summary>Bytes of log pages currently allocated in memory.</summary>
    public long LogMemoryBytes => _store.Log.MemorySizeBytes;

    /// <summary>Bytes of the hash index (main buckets plus overflow buckets).</summary>
    public long IndexBytes => (_store.IndexSize + _store.OverflowBucketCount) * 64;

    /// <summary>
    /// Opens (creating if needed) the store in <see cref="FasterTierOptions.Directory"/> and recovers its latest
    /// checkpoint. A missing checkpoint starts empty; an unrecoverable one is logged, moved to <c>corrupt/</c> and the
    /// tier starts empty — never an exception for what is on disk. Invalid options throw <see cref="ArgumentException"/>.
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
        var logDirectory = Path.Combine(root, LogDirectoryName);
        var checkpointDirectory = Path.Combine(root, CheckpointDirectoryName);
        Directory.CreateDirectory(logDirectory);
        Directory.CreateDirectory(checkpointDirectory);

        if (!HasLogCheckpoint(checkpointDirectory))
        {
            // Log segments without a checkpoint are from a run that never checkpointed: nothing can be recovered
            // from them, and stale index checkpoints must not pair with a future log checkpoint.
            var orphans = ClearDirectory(logDirectory) + ClearDirectory(checkpointDirectory);
            if (orphans > 0)
            {
                Log.DiscardedOrphanLog(logger, orphans, root);
            }

            Log.StartedEmpty(logger, root);
            return new FasterTier(options, logger, timeProvider, root, CreateStore(options, logDirectory, checkpointDirectory), FasterRecoveryOutcome.Empty, 0);
        }

        var parts = CreateStore(options, logDirectory, checkpointDirectory);
        try
        {
            VerifyLogSegments(parts.CheckpointManager, logDirectory, options.EffectiveSegmentBytes);
            var version = await parts.Store.RecoverAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            parts.Store.DisposeRecoverableSessions();
            Log.Recovered(logger, version, root, parts.Store.Log.BeginAddress, parts.Store.Log.TailAddress);
            return new FasterTier(options, logger, timeProvider, root, parts, FasterRecoveryOutcome.Recovered, version);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            parts.Dispose();
            throw;
        }
        catch (Exception ex)
        {
            parts.DisposeAfterFailedRecovery(logger);
            var quarantine = Quarantine(root, logDirectory, checkpointDirectory);
            Log.RecoveryFailed(logger, ex, root, quarantine);
            Directory.CreateDirectory(logDirectory);
            Directory.CreateDirectory(checkpointDirectory);
            return new FasterTier(options, logger, timeProvider, root, CreateStore(options, logDirectory, checkpointDirectory), FasterRecoveryOutcome.CorruptStartedEmpty, 0);
        }
    }

    /// <inheritdoc />
    public async ValueTask<CustomerSnapshot?> ReadAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_gate.TryEnter())
        {
            return null;
        }

        try
        {
            ValueBuffer value;
            var lease = RentSession();
            var healthy = false;
            try
            {
                lease.SetKey(key);
                value = await ReadCurrentAsync(lease).ConfigureAwait(false);
                healthy = true;
            }
            catch (Exception ex)
            {
                Log.OperationFailed(_logger, ex, "read", key.ToString());
                return null;
            }
            finally
            {
                ReturnSession(lease, healthy);
            }

            if (value.Array is null)
            {
                return null;
            }

            try
            {
                return SnapshotCodec.Deserialize(value.Span);
            }
            catch (SnapshotFormatException ex)
            {
                Log.CorruptRecord(_logger, ex, key.ToString());
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
            _gate.Exit();
        }
    }

    /// <inheritdoc />
    public async ValueTask WriteAsync(CustomerSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        await MutateAsync(snapshot.Key, "write", snapshot, static async (tier, lease, key, snapshot) =>
        {
            var stored = await ReadCurrentAsync(lease).ConfigureAwait(false);
            try
            {
                // The guard needs only the fixed-offset timestamp, not a full decode.
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
            await UpsertCurrentAsync(lease).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask WriteUsageAsync(CustomerKey key, UsageUpdate update, CancellationToken cancellationToken)
    {
        await MutateAsync(key, "usage write", update, static async (tier, lease, key, update) =>
        {
            var stored = await ReadCurrentAsync(lease).ConfigureAwait(false);
            CustomerSnapshot current;
            try
            {
                if (stored.Array is null)
                {
                    return false;
                }

                current = SnapshotCodec.Deserialize(stored.Span);
            }
            catch (SnapshotFormatException ex)
            {
                // Nothing to apply usage to; the customer is refetched on its next read.
                Log.CorruptRecord(tier._logger, ex, key.ToString());
                await DeleteCurrentAsync(lease).ConfigureAwait(false);
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
            await UpsertCurrentAsync(lease).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask RemoveAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        await MutateAsync(key, "remove", 0, static async (_, lease, _, _) =>
        {
            await DeleteCurrentAsync(lease).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes a checkpoint now if anything changed since the last one. False when nothing changed or another
    /// checkpoint was in progress. Never throws for a failed checkpoint (it is logged).
    /// </summary>
    public Task<bool> CheckpointAsync(CancellationToken cancellationToken) =>
        UnderMaintenanceAsync(static tier => tier.CheckpointCoreAsync(), cancellationToken);

    /// <summary>Graceful shutdown: waits for operations in flight, takes a final checkpoint, closes the files.</summary>
    public ValueTask DisposeAsync() => CloseAsync(finalCheckpoint: true);

    /// <summary>
    /// One maintenance pass as the timer runs it: checkpoint if anything changed, then compact when the log span
    /// exceeds the disk bound. Returns true when a compaction ran.
    /// </summary>
    internal Task<bool> MaintainAsync(CancellationToken cancellationToken) =>
        UnderMaintenanceAsync(static async tier =>
        {
            await tier.CheckpointCoreAsync().ConfigureAwait(false);
            return await tier.CompactIfNeededAsync().ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Runs one checkpoint/compaction step while the store is open, one step at a time; a failure is logged and
    /// answered as false (the next interval tries again).
    /// </summary>
    private async Task<bool> UnderMaintenanceAsync(Func<FasterTier, Task<bool>> step, CancellationToken cancellationToken)
    {
        if (!_gate.TryEnter())
        {
            return false;
        }

        try
        {
            await _maintenance.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await step(this).ConfigureAwait(false);
            }
            finally
            {
                _maintenance.Release();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.MaintenanceFailed(_logger, ex);
            return false;
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Closes the store; without the final checkpoint it behaves like a crash after the last checkpoint.</summary>
    internal async ValueTask CloseAsync(bool finalCheckpoint)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _maintenanceLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _gate.CloseAsync().ConfigureAwait(false);

        var checkpointed = false;
        if (finalCheckpoint)
        {
            await _maintenance.WaitAsync().ConfigureAwait(false);
            try
            {
                checkpointed = await CheckpointCoreAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.FinalCheckpointFailed(_logger, ex);
            }
            finally
            {
                _maintenance.Release();
            }
        }

        while (_sessions.TryDequeue(out var lease))
        {
            lease.Dispose();
        }

        new StoreParts(_store, _logDevice, _checkpointManager).Dispose();
        _stop.Dispose();
        _maintenance.Dispose();
        foreach (var stripe in _stripes)
        {
            stripe.Dispose();
        }

        Log.Closed(_logger, _root, checkpointed);
    }

    /// <summary>Deletes the record if it is still undecodable once the key's write lock is held (a writer may have replaced it).</summary>
    private ValueTask RemoveIfCorruptAsync(CustomerKey key, CancellationToken cancellationToken) =>
        MutateAsync(key, "corrupt record removal", 0, static async (_, lease, _, _) =>
        {
            var stored = await ReadCurrentAsync(lease).ConfigureAwait(false);
            try
            {
                if (stored.Array is null)
                {
                    return false;
                }

                SnapshotCodec.Deserialize(stored.Span);
                return false;
            }
            catch (SnapshotFormatException)
            {
                // Still corrupt: fall through to the delete.
            }
            finally
            {
                stored.Return();
            }

            await DeleteCurrentAsync(lease).ConfigureAwait(false);
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
        if (!_gate.TryEnter())
        {
            return;
        }

        try
        {
            var stripe = _stripes[(uint)key.GetHashCode() % LockStripes];
            await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var lease = RentSession();
                var healthy = false;
                try
                {
                    lease.SetKey(key);
                    if (await mutation(this, lease, key, state).ConfigureAwait(false))
                    {
                        Interlocked.Increment(ref _mutations);
                    }

                    healthy = true;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.OperationFailed(_logger, ex, operation, key.ToString());
                }
                finally
                {
                    ReturnSession(lease, healthy);
                }
            }
            finally
            {
                stripe.Release();
            }
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Reads the lease's current key; a record on disk completes asynchronously without blocking a thread.</summary>
    private static async ValueTask<ValueBuffer> ReadCurrentAsync(SessionLease lease)
    {
        var status = lease.Read(out var output);
        if (status.IsPending)
        {
            // One operation per session at a time, so the iterator yields exactly this read.
            using var completed = await lease.Session.CompletePendingWithOutputsAsync().ConfigureAwait(false);
            status = default;
            while (completed.Next())
            {
                status = completed.Current.Status;
                output = completed.Current.Output;
            }
        }

        if (status.Found)
        {
            return output;
        }

        output.Return();
        if (status.IsFaulted)
        {
            throw new IOException("FASTER reported an error reading the record (log I/O failed).");
        }

        return default;
    }

    private static async ValueTask UpsertCurrentAsync(SessionLease lease)
    {
        var result = await lease.UpsertAsync().ConfigureAwait(false);
        while (result.Status.IsPending)
        {
            result = await result.CompleteAsync().ConfigureAwait(false);
        }

        if (result.Status.IsFaulted)
        {
            throw new IOException("FASTER reported an error writing the record.");
        }
    }

    private static async ValueTask DeleteCurrentAsync(SessionLease lease)
    {
        var result = await lease.DeleteAsync().ConfigureAwait(false);
        while (result.Status.IsPending)
        {
            result = await result.CompleteAsync().ConfigureAwait(false);
        }

        if (result.Status.IsFaulted)
        {
            throw new IOException("FASTER reported an error deleting the record.");
        }
    }

    private async Task RunMaintenanceLoopAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        using var owned = timer;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await MaintainAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown.
        }
    }

    /// <summary>Caller holds <see cref="_maintenance"/>. Not cancellable once started: FASTER's checkpoint state machine must finish.</summary>
    private async Task<bool> CheckpointCoreAsync(bool force = false)
    {
        var mutations = Interlocked.Read(ref _mutations);
        if (!force && mutations == _checkpointedMutations)
        {
            return false;
        }

        var started = _time.GetTimestamp();
        var (success, token) = await _store.TakeFullCheckpointAsync(CheckpointType.FoldOver).ConfigureAwait(false);
        if (!success)
        {
            Log.CheckpointBusy(_logger);
            return false;
        }

        _checkpointedMutations = mutations;
        Log.CheckpointTaken(_logger, token, _store.CurrentVersion - 1, _store.Log.TailAddress, _time.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }

    /// <summary>Caller holds <see cref="_maintenance"/>, right after a checkpoint.</summary>
    private async Task<bool> CompactIfNeededAsync()
    {
        var bound = Options.EffectiveMaxDiskBytes;
        var begin = _store.Log.BeginAddress;
        var tail = _store.Log.TailAddress;
        if (tail - begin <= bound)
        {
            return false;
        }

        var until = Math.Min(_store.Log.SafeReadOnlyAddress, tail - (bound / 2));
        if (until <= begin)
        {
            return false;
        }

        var started = _time.GetTimestamp();

        // Lookup compaction scans the old region synchronously (with blocking disk reads): keep it off the pool.
        await Task.Factory.StartNew(
            () =>
            {
                var lease = RentSession();
                var healthy = false;
                try
                {
                    lease.Session.Compact(until, CompactionType.Lookup);
                    healthy = true;
                }
                finally
                {
                    ReturnSession(lease, healthy);
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
        _store.Log.Truncate();
        Log.Compacted(_logger, begin, _store.Log.BeginAddress, _store.Log.TailAddress, bound, _time.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }

    private SessionLease RentSession() =>
        _sessions.TryDequeue(out var lease) ? lease : new SessionLease(_store, _functions);

    private void ReturnSession(SessionLease lease, bool healthy)
    {
        // A session that saw an exception may hold half-finished pending state: drop it rather than reuse it.
        if (healthy && _sessions.Count < _maxPooledSessions)
        {
            _sessions.Enqueue(lease);
            return;
        }

        try
        {
            lease.Dispose();
        }
        catch (Exception ex)
        {
            Log.OperationFailed(_logger, ex, "session dispose", string.Empty);
        }
    }

    private static StoreParts CreateStore(FasterTierOptions options, string logDirectory, string checkpointDirectory)
    {
        var device = Devices.CreateLogDevice(Path.Combine(logDirectory, LogFileName), preallocateFile: false, deleteOnClose: false, recoverDevice: true);
        var checkpointManager = new DeviceLogCommitCheckpointManager(
            new LocalStorageNamedDeviceFactory(),
            new DefaultCheckpointNamingScheme(checkpointDirectory),
            removeOutdated: true);
        try
        {
            var store = new Store(
                options.EffectiveIndexBuckets,
                new LogSettings
                {
                    LogDevice = device,
                    PageSizeBits = Bits(options.EffectivePageBytes),
                    MemorySizeBits = Bits(options.EffectiveMemoryBytes),
                    SegmentSizeBits = Bits(options.EffectiveSegmentBytes),
                    MutableFraction = 0.9,
                    ReadCopyOptions = new ReadCopyOptions(ReadCopyFrom.None, ReadCopyTo.None),
                },
                new CheckpointSettings { CheckpointManager = checkpointManager, RemoveOutdated = true },
                comparer: new SpanByteComparer(),
                concurrencyControlMode: ConcurrencyControlMode.None);
            return new StoreParts(store, device, checkpointManager);
        }
        catch
        {
            checkpointManager.Dispose();
            device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// FASTER reads a missing or short segment file as zeros and would "recover" an empty or partial log, so check
    /// first that the log range of the newest readable checkpoint, [begin, final), is fully on disk.
    /// </summary>
    private static void VerifyLogSegments(DeviceLogCommitCheckpointManager checkpoints, string logDirectory, long segmentBytes)
    {
        HybridLogRecoveryInfo? newest = null;
        foreach (var token in checkpoints.GetLogCheckpointTokens())
        {
            HybridLogRecoveryInfo info = default;
            try
            {
                var metadata = checkpoints.GetLogCheckpointMetadata(token, deltaLog: null, scanDelta: false, recoverTo: -1);
                using var reader = new StreamReader(new MemoryStream(metadata));
                info.Initialize(reader);
            }
            catch (Exception ex) when (ex is FasterException or FormatException or IOException or ArgumentException or OverflowException)
            {
                continue; // FASTER skips unreadable checkpoints too
            }

            if (newest is not { } current || info.version > current.version)
            {
                newest = info;
            }
        }

        if (newest is not { } checkpoint)
        {
            throw new InvalidDataException("No readable log checkpoint metadata.");
        }

        if (checkpoint.finalLogicalAddress < checkpoint.beginAddress)
        {
            throw new InvalidDataException($"Checkpoint log range [{checkpoint.beginAddress}, {checkpoint.finalLogicalAddress}) is inverted.");
        }

        for (var segment = checkpoint.beginAddress / segmentBytes; segment * segmentBytes < checkpoint.finalLogicalAddress; segment++)
        {
            var required = Math.Min(checkpoint.finalLogicalAddress, (segment + 1) * segmentBytes) - (segment * segmentBytes);
            var file = new FileInfo(Path.Combine(logDirectory, $"{LogFileName}.{segment}"));
            if (!file.Exists || file.Length < required)
            {
                throw new InvalidDataException(
                    $"Log segment {file.Name} is {(file.Exists ? $"{file.Length} bytes, expected at least {required}" : "missing")} (checkpoint log range [{checkpoint.beginAddress}, {checkpoint.finalLogicalAddress})).");
            }
        }
    }

    private static int Bits(long powerOfTwo) => System.Numerics.BitOperations.Log2((ulong)powerOfTwo);

    private static bool HasLogCheckpoint(string checkpointDirectory)
    {
        var logCheckpoints = Path.Combine(checkpointDirectory, "cpr-checkpoints");
        return Directory.Exists(logCheckpoints) && Directory.EnumerateFileSystemEntries(logCheckpoints).Any();
    }

    private static int ClearDirectory(string directory)
    {
        var removed = 0;
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            if (entry is DirectoryInfo subdirectory)
            {
                subdirectory.Delete(recursive: true);
            }
            else
            {
                entry.Delete();
            }

            removed++;
        }

        return removed;
    }

    /// <summary>Moves the unrecoverable files to <c>corrupt/</c> (replacing an older quarantine, so disk use stays bounded).</summary>
    private static string Quarantine(string root, string logDirectory, string checkpointDirectory)
    {
        var quarantine = Path.Combine(root, QuarantineDirectoryName);
        if (Directory.Exists(quarantine))
        {
            Directory.Delete(quarantine, recursive: true);
        }

        Directory.CreateDirectory(quarantine);
        Directory.Move(logDirectory, Path.Combine(quarantine, LogDirectoryName));
        Directory.Move(checkpointDirectory, Path.Combine(quarantine, CheckpointDirectoryName));
        return quarantine;
    }

    private readonly record struct StoreParts(Store Store, IDevice LogDevice, DeviceLogCommitCheckpointManager CheckpointManager)
    {
        public void Dispose()
        {
            Store.Dispose();
            LogDevice.Dispose();
            CheckpointManager.Dispose();
        }

        /// <summary>A store that failed recovery may be half-initialised; its files are quarantined next, so only log.</summary>
        public void DisposeAfterFailedRecovery(ILogger logger)
        {
            try
            {
                Dispose();
            }
            catch (Exception ex)
            {
                Log.DisposeFailed(logger, ex);
            }
        }
    }
}
