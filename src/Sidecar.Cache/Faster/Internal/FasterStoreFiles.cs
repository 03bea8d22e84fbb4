using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Faster.Internal;

using Store = FasterKV<SpanByte, SpanByte>;

/// <summary>
/// The tier directory: generations <c>g…/</c> (one store each, see <see cref="StoreLayout"/>), the <c>current</c> file
/// naming the generation whose verified checkpoint a start recovers, and <c>corrupt/</c> (the last quarantine). A start
/// recovers the current generation only after its manifest verifies every byte FASTER will read; anything else on disk
/// is quarantined or, when it never held a verified checkpoint, deleted. Nothing on disk makes opening throw or crash:
/// a directory that cannot be written gives a tier without persistence.
/// </summary>
internal static class FasterStoreFiles
{
    private const string CurrentFileName = "current";
    private const string QuarantineDirectoryName = "corrupt";
    private const string GenerationPrefix = "g";

    /// <summary>Entries of earlier on-disk layouts (no manifest, unverifiable): quarantined at the first start.</summary>
    private static readonly string[] LegacyEntries = ["log", "checkpoints"];

    public static async Task<OpenedStore> OpenAsync(
        FasterTierOptions options,
        string root,
        ILogger logger,
        TimeProvider time,
        Action<FasterStore, string> onFault,
        CancellationToken cancellationToken)
    {
        try
        {
            Directory.CreateDirectory(root);
            return await OpenCoreAsync(options, root, logger, time, onFault, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.PersistenceUnavailable(logger, root, ex.Message);
            return new OpenedStore(null, FasterRecoveryOutcome.Unavailable, 0, ex.Message);
        }
    }

    /// <summary>A new, empty generation; it becomes <c>current</c> at its first verified checkpoint.</summary>
    public static FasterStore CreateGeneration(FasterTierOptions options, string root, ILogger logger, TimeProvider time, Action<FasterStore, string> onFault)
    {
        Directory.CreateDirectory(root);
        var layout = new StoreLayout(Path.Combine(root, $"{GenerationPrefix}{time.GetUtcNow():yyyyMMddHHmmssfff}{Random.Shared.Next(1000):D3}"));
        Directory.CreateDirectory(layout.Log);
        Directory.CreateDirectory(layout.Checkpoints);
        return new FasterStore(layout, options, logger, time, onFault);
    }

    /// <summary>Makes <paramref name="layout"/> the generation a start recovers, and deletes the others.</summary>
    public static void MakeCurrent(StoreLayout layout, ILogger logger)
    {
        var root = Path.GetDirectoryName(layout.Directory)!;
        var pointer = Path.Combine(root, CurrentFileName);
        if (ReadCurrent(root) == layout.Name)
        {
            return;
        }

        var temporary = pointer + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(System.Text.Encoding.UTF8.GetBytes(layout.Name + "\n"));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, pointer, overwrite: true);
        DeleteGenerationsExcept(root, layout.Name, logger);
    }

    /// <summary>Deletes a faulted generation's files (best effort: the disk may refuse) and the pointer to it.</summary>
    public static void DiscardGeneration(StoreLayout layout, ILogger logger)
    {
        try
        {
            var root = Path.GetDirectoryName(layout.Directory)!;
            if (ReadCurrent(root) == layout.Name)
            {
                File.Delete(Path.Combine(root, CurrentFileName));
            }

            if (Directory.Exists(layout.Directory))
            {
                Directory.Delete(layout.Directory, recursive: true);
                Log.DiscardedGeneration(logger, layout.Directory);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.ResumeProbeFailed(logger, layout.Directory, ex.Message);
        }
    }

    private static async Task<OpenedStore> OpenCoreAsync(
        FasterTierOptions options,
        string root,
        ILogger logger,
        TimeProvider time,
        Action<FasterStore, string> onFault,
        CancellationToken cancellationToken)
    {
        var current = ReadCurrent(root);
        var legacy = LegacyEntries.Select(e => Path.Combine(root, e)).Where(Directory.Exists).ToArray();
        if (legacy.Length > 0)
        {
            Quarantine(root, legacy, "it was written by an earlier version without integrity checks", logger);
        }

        if (current is null && File.Exists(Path.Combine(root, CurrentFileName)))
        {
            // A damaged pointer: which generation held the verified checkpoint is unknown, so none is trusted or deleted.
            var generations = Generations(root).Select(d => d.FullName).ToArray();
            Quarantine(root, generations, "the file naming the current store generation is damaged", logger);
            return Fresh(FasterRecoveryOutcome.CorruptStartedEmpty);
        }

        DeleteGenerationsExcept(root, current, logger);
        if (current is null)
        {
            return Fresh(FasterRecoveryOutcome.Empty);
        }

        var layout = new StoreLayout(Path.Combine(root, current));
        if (File.Exists(layout.RecoveringMarker))
        {
            Quarantine(root, [layout.Directory], "the previous start stopped while recovering it", logger);
            return Fresh(FasterRecoveryOutcome.CorruptStartedEmpty);
        }

        if (CheckpointManifest.TryRead(layout, out var problem) is not { } manifest)
        {
            Quarantine(root, [layout.Directory], problem, logger);
            return Fresh(FasterRecoveryOutcome.CorruptStartedEmpty);
        }

        var started = time.GetTimestamp();
        if (manifest.Verify(layout, options.EffectiveSegmentBytes) is { } damage)
        {
            Quarantine(root, [layout.Directory], damage, logger);
            return Fresh(FasterRecoveryOutcome.CorruptStartedEmpty);
        }

        var verifiedMs = time.GetElapsedTime(started).TotalMilliseconds;
        PurgeCheckpointsExcept(layout, manifest.Token);
        File.WriteAllBytes(layout.RecoveringMarker, []);
        var store = new FasterStore(layout, options, logger, time, onFault);
        try
        {
            var version = await store.RecoverAsync(manifest, cancellationToken).ConfigureAwait(false);
            File.Delete(layout.RecoveringMarker);
            Log.Recovered(logger, version, layout.Directory, store.Kv.Log.BeginAddress, store.Kv.Log.TailAddress, verifiedMs, time.GetElapsedTime(started).TotalMilliseconds);
            return new OpenedStore(store, FasterRecoveryOutcome.Recovered, version, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            store.Dispose();
            File.Delete(layout.RecoveringMarker);
            throw;
        }
        catch (Exception ex)
        {
            Log.RecoveryFailed(logger, ex, layout.Directory);
            store.Dispose();
            Quarantine(root, [layout.Directory], $"FASTER could not recover it: {ex.Message}", logger);
            return Fresh(FasterRecoveryOutcome.CorruptStartedEmpty);
        }

        OpenedStore Fresh(FasterRecoveryOutcome outcome)
        {
            var store = CreateGeneration(options, root, logger, time, onFault);
            if (outcome == FasterRecoveryOutcome.Empty)
            {
                Log.StartedEmpty(logger, root);
            }

            return new OpenedStore(store, outcome, 0, null);
        }
    }

    private static string? ReadCurrent(string root)
    {
        try
        {
            var name = File.ReadAllText(Path.Combine(root, CurrentFileName)).Trim();
            return IsGeneration(name) && Directory.Exists(Path.Combine(root, name)) ? name : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsGeneration(string name) =>
        name.Length > GenerationPrefix.Length && name.StartsWith(GenerationPrefix, StringComparison.Ordinal) && name[1..].All(char.IsAsciiDigit);

    /// <summary>Generations other than the current one never reached a verified checkpoint, or were superseded: nothing to keep.</summary>
    private static void DeleteGenerationsExcept(string root, string? keep, ILogger logger)
    {
        foreach (var dir in Generations(root))
        {
            if (dir.Name != keep)
            {
                dir.Delete(recursive: true);
                Log.DiscardedGeneration(logger, dir.FullName);
            }
        }
    }

    private static DirectoryInfo[] Generations(string root) =>
        [.. new DirectoryInfo(root).EnumerateDirectories().Where(d => IsGeneration(d.Name))];

    /// <summary>FASTER would recover the newest checkpoint, so only the one the manifest verified may stay (and older ones are garbage).</summary>
    internal static void PurgeCheckpointsExcept(StoreLayout layout, Guid verified)
    {
        foreach (var kind in CheckpointManifest.CheckpointKinds)
        {
            var dir = Path.Combine(layout.Checkpoints, kind);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (var token in new DirectoryInfo(dir).EnumerateDirectories())
            {
                if (token.Name != verified.ToString())
                {
                    token.Delete(recursive: true);
                }
            }
        }
    }

    /// <summary>Moves <paramref name="entries"/> to <c>corrupt/</c> (replacing an older quarantine, so disk use stays bounded).</summary>
    private static void Quarantine(string root, string[] entries, string reason, ILogger logger)
    {
        var quarantine = Path.Combine(root, QuarantineDirectoryName);
        if (Directory.Exists(quarantine))
        {
            Directory.Delete(quarantine, recursive: true);
        }

        Directory.CreateDirectory(quarantine);
        foreach (var entry in entries)
        {
            Directory.Move(entry, Path.Combine(quarantine, Path.GetFileName(entry)));
        }

        var pointer = Path.Combine(root, CurrentFileName);
        if (File.Exists(pointer))
        {
            File.Delete(pointer);
        }

        Log.Quarantined(logger, root, reason, quarantine);
    }
}

/// <summary>What <see cref="FasterStoreFiles.OpenAsync"/> opened: a store (null when the directory cannot be written) and what was found.</summary>
internal readonly record struct OpenedStore(FasterStore? Store, FasterRecoveryOutcome Outcome, long RecoveredVersion, string? UnavailableCause);

/// <summary>The store and the two file handles it was built on; disposed together.</summary>
internal readonly record struct StoreParts(Store Store, IDevice LogDevice, DeviceLogCommitCheckpointManager CheckpointManager)
{
    public static StoreParts Create(FasterTierOptions options, StoreLayout layout, ILogger fasterLogger)
    {
        var device = Devices.CreateLogDevice(layout.LogFile, preallocateFile: false, deleteOnClose: false, recoverDevice: true);

        // Outdated checkpoints are purged by maintenance after the new manifest is written, never by FASTER.
        var checkpointManager = new DeviceLogCommitCheckpointManager(
            new LocalStorageNamedDeviceFactory(),
            new DefaultCheckpointNamingScheme(layout.Checkpoints),
            removeOutdated: false);
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
                new CheckpointSettings { CheckpointManager = checkpointManager, RemoveOutdated = false },
                comparer: new SpanByteComparer(),
                concurrencyControlMode: ConcurrencyControlMode.None,
                logger: fasterLogger);
            return new StoreParts(store, device, checkpointManager);
        }
        catch
        {
            checkpointManager.Dispose();
            device.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Store.Dispose();
        LogDevice.Dispose();
        CheckpointManager.Dispose();
    }

    private static int Bits(long powerOfTwo) => System.Numerics.BitOperations.Log2((ulong)powerOfTwo);
}
