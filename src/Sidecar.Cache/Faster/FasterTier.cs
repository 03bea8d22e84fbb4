using FASTER.core;
using Microsoft.Extensions.Logging;
using Sidecar.Cache.Faster.Internal;
using Sidecar.Core.Model;

namespace Sidecar.Cache.Faster;

using Store = FasterKV<SpanByte, SpanByte>;

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
/// <para>Durability: the owner calls <see cref="MaintainAsync"/> every <see cref="FasterTierOptions.CheckpointInterval"/>
/// (a fold-over checkpoint of hybrid log + index when anything changed), and <see cref="DisposeAsync"/> takes a final
/// one. A crash loses at most the writes since the last checkpoint; FASTER recovers to the checkpoint's consistent
/// version and ignores the log beyond it.</para>
/// <para>Disk bound: after a checkpoint, when the log span exceeds <see cref="FasterTierOptions.EffectiveMaxDiskBytes"/>,
/// live records below <c>tail − bound / 2</c> are copied forward (lookup compaction), a second checkpoint records
/// the new begin address, and only then are the old segments deleted — a crash at any point recovers a checkpoint
/// whose log is still on disk.</para>
/// </remarks>
public sealed class FasterTier : ISnapshotTier
{
    private const int LockStripes = 64;

    private readonly ILogger _logger;
    private readonly string _root;
    private readonly StoreParts _parts;
    private readonly Store _store;
    private readonly SessionPool _sessions;
    private readonly FasterMaintenance _maintenance;
    private readonly SemaphoreSlim[] _stripes = new SemaphoreSlim[LockStripes];
    private readonly ActivityGate _gate = new();
    private int _disposed;

    private FasterTier(FasterTierOptions options, ILogger logger, TimeProvider time, string root, OpenedStore opened)
    {
        Options = options;
        _logger = logger;
        _root = root;
        _parts = opened.Parts;
        _store = opened.Parts.Store;
        _sessions = new SessionPool(_store, logger);
        _maintenance = new FasterMaintenance(_store, _sessions, options.EffectiveMaxDiskBytes, logger, time);
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

    /// <summary>Oldest live log address; everything below it has been compacted away.</summary>
    public long LogBeginAddress => _store.Log.BeginAddress;

    /// <summary>Records below this address are on disk only (a read costs one I/O).</summary>
    public long LogHeadAddress => _store.Log.HeadAddress;

    /// <summary>Next log address to be written.</summary>
    public long LogTailAddress => _store.Log.TailAddress;

    /// <summary>
    /// Opens (creating if needed) the store in <see cref="FasterTierOptions.Directory"/> and recovers its latest
    /// checkpoint. A missing checkpoint starts empty; an unrecoverable one is logged, moved to <c>corrupt/</c> and the
    /// tier starts empty — never an exception for what is on disk. Invalid options throw <see cref="ArgumentException"/>.
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
        var opened = await FasterStoreFiles.OpenAsync(options, root, logger, cancellationToken).ConfigureAwait(false);
        return new FasterTier(options, logger, timeProvider, root, opened);
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
            var lease = _sessions.Rent();
            var healthy = false;
            try
            {
                lease.SetKey(key);
                value = await lease.ReadCurrentAsync().ConfigureAwait(false);
                healthy = true;
            }
            catch (Exception ex)
            {
                Log.OperationFailed(_logger, ex, "read", key.ToString());
                return null;
            }
            finally
            {
                _sessions.Return(lease, healthy);
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
            var stored = await lease.ReadCurrentAsync().ConfigureAwait(false);
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
            }
            catch (SnapshotFormatException ex)
            {
                // Nothing to apply usage to; the customer is refetched on its next read.
                Log.CorruptRecord(tier._logger, ex, key.ToString());
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
    /// Takes a checkpoint now if anything changed since the last one. False when nothing changed or another
    /// checkpoint was in progress. Never throws for a failed checkpoint (it is logged).
    /// </summary>
    public Task<bool> CheckpointAsync(CancellationToken cancellationToken) =>
        UnderGateAsync(static (m, ct) => m.CheckpointAsync(ct), cancellationToken);

    /// <summary>
    /// One maintenance step, to be run every <see cref="FasterTierOptions.CheckpointInterval"/>: a checkpoint if
    /// anything changed, then compaction when the log span exceeds the disk bound. Returns true when a compaction ran.
    /// Steps never overlap; a failure is logged and answered as false (the next step tries again); false once closed.
    /// </summary>
    public Task<bool> MaintainAsync(CancellationToken cancellationToken) =>
        UnderGateAsync(static (m, ct) => m.MaintainAsync(ct), cancellationToken);

    /// <summary>Graceful shutdown: waits for operations in flight, takes a final checkpoint, closes the files.</summary>
    public ValueTask DisposeAsync() => CloseAsync(finalCheckpoint: true);

    /// <summary>Closes the store; without the final checkpoint it behaves like a crash after the last checkpoint.</summary>
    internal async ValueTask CloseAsync(bool finalCheckpoint)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _gate.CloseAsync().ConfigureAwait(false);
        var checkpointed = finalCheckpoint && await _maintenance.FinalCheckpointAsync().ConfigureAwait(false);

        _sessions.Dispose();
        _parts.Dispose();
        _maintenance.Dispose();
        foreach (var stripe in _stripes)
        {
            stripe.Dispose();
        }

        Log.Closed(_logger, _root, checkpointed);
    }

    /// <summary>Runs a maintenance step while the store is open (close waits for it).</summary>
    private async Task<bool> UnderGateAsync(Func<FasterMaintenance, CancellationToken, Task<bool>> step, CancellationToken cancellationToken)
    {
        if (!_gate.TryEnter())
        {
            return false;
        }

        try
        {
            return await step(_maintenance, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Deletes the record if it is still undecodable once the key's write lock is held (a writer may have replaced it).</summary>
    private ValueTask RemoveIfCorruptAsync(CustomerKey key, CancellationToken cancellationToken) =>
        MutateAsync(key, "corrupt record removal", 0, static async (_, lease, _, _) =>
        {
            var stored = await lease.ReadCurrentAsync().ConfigureAwait(false);
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
                var lease = _sessions.Rent();
                var healthy = false;
                try
                {
                    lease.SetKey(key);
                    if (await mutation(this, lease, key, state).ConfigureAwait(false))
                    {
                        _maintenance.RecordMutation();
                    }

                    healthy = true;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.OperationFailed(_logger, ex, operation, key.ToString());
                }
                finally
                {
                    _sessions.Return(lease, healthy);
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
}
