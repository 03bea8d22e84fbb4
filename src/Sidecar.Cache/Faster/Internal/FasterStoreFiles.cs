using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Faster.Internal;

using Store = FasterKV<SpanByte, SpanByte>;

/// <summary>
/// The store's files under the tier directory — <c>log/</c> (hybrid log segments), <c>checkpoints/</c> and
/// <c>corrupt/</c> (the last quarantine) — and how a store is opened on them: recover the newest checkpoint when its
/// log is fully on disk, otherwise quarantine and start empty. Nothing on disk makes opening throw.
/// </summary>
internal static class FasterStoreFiles
{
    private const string LogDirectoryName = "log";
    private const string CheckpointDirectoryName = "checkpoints";
    private const string QuarantineDirectoryName = "corrupt";
    private const string LogFileName = "hlog";

    /// <summary>
    /// Opens (creating if needed) the store in <paramref name="root"/> and recovers its latest checkpoint. A missing
    /// checkpoint starts empty; an unrecoverable one is logged, moved to <c>corrupt/</c> and the store starts empty.
    /// </summary>
    public static async Task<OpenedStore> OpenAsync(FasterTierOptions options, string root, ILogger logger, CancellationToken cancellationToken)
    {
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
            return new OpenedStore(CreateStore(options, logDirectory, checkpointDirectory), FasterRecoveryOutcome.Empty, 0);
        }

        var parts = CreateStore(options, logDirectory, checkpointDirectory);
        try
        {
            VerifyLogSegments(parts.CheckpointManager, logDirectory, options.EffectiveSegmentBytes);
            var version = await parts.Store.RecoverAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            parts.Store.DisposeRecoverableSessions();
            Log.Recovered(logger, version, root, parts.Store.Log.BeginAddress, parts.Store.Log.TailAddress);
            return new OpenedStore(parts, FasterRecoveryOutcome.Recovered, version);
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
            return new OpenedStore(CreateStore(options, logDirectory, checkpointDirectory), FasterRecoveryOutcome.CorruptStartedEmpty, 0);
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
}

/// <summary>A store opened by <see cref="FasterStoreFiles.OpenAsync"/> and what was found on disk.</summary>
internal readonly record struct OpenedStore(StoreParts Parts, FasterRecoveryOutcome Outcome, long RecoveredVersion);

/// <summary>The store and the two file handles it was built on; disposed together.</summary>
internal readonly record struct StoreParts(Store Store, IDevice LogDevice, DeviceLogCommitCheckpointManager CheckpointManager)
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
