using FASTER.core;

namespace Sidecar.Upstream.Outbox.Internal;

/// <summary>
/// The outbox on FASTER's log (<see cref="FasterLog"/>) under one directory: <c>log/</c> (segments),
/// <c>commits/</c> (commit metadata) and <c>corrupt/</c> (a log FASTER could not open, moved aside).
/// </summary>
/// <remarks>
/// <para><b>Durability.</b> An append returns after <see cref="FasterLog.CommitAsync(CancellationToken)"/> covers it.
/// That call flushes the log pages up to the tail and then writes the commit metadata (begin and until address); it
/// completes only when both writes have completed. Once it returns, the entry survives <c>kill -9</c>: the bytes are
/// in the kernel, and recovery (<c>new FasterLog</c> with <c>TryRecoverLatest</c>) restores up to that commit
/// (checked by <c>bench/Sidecar.OutboxBench killtest</c>: SIGKILL after N acknowledgements, reopen, N entries). The
/// writes go further than <c>kill -9</c> needs: on Linux FASTER's <c>ManagedLocalStorageDevice</c> opens the segment
/// and commit files with <c>FileOptions.WriteThrough</c> (<c>O_SYNC</c>, seen with strace), so a completed write is
/// on the device. Not covered against a power cut: each commit is a new file (<c>commits/log-commits/commit.N.0</c>)
/// whose directory entry is not fsynced, so after a power loss recovery may fall back to an earlier commit. Entries
/// enqueued but not yet committed are never acknowledged and are not recovered. Cost: see the README (about 0.7 ms
/// per report for one writer on this machine's ext4; less per report when concurrent appends share a commit).</para>
/// <para><b>Group commit.</b> Concurrent appends share commits: <c>CommitAsync</c> issues no second commit when one
/// already covers the tail (FASTER's <c>commitCoveredAddress</c>), it waits for the one in flight.</para>
/// <para><b>Damage.</b> Every entry carries FASTER's per-entry checksum and the outbox's own CRC. A region the
/// iterator cannot read is returned as a record without payload (quarantined by the caller); a log FASTER cannot open
/// at all is moved to <c>corrupt/</c> and the outbox starts empty. Nothing on disk makes opening throw.</para>
/// </remarks>
internal sealed class FasterOutboxLog : OutboxLog
{
    private const string LogDirectoryName = "log";
    private const string CommitDirectoryName = "commits";
    private const string QuarantineDirectoryName = "corrupt";
    private const string LogFileName = "outbox";

    /// <summary>Pages of 256 KiB, 1 MiB in memory, files of 8 MiB (disk is released a segment at a time).</summary>
    private const int PageBits = 18;
    private const int MemoryBits = 20;
    private const int SegmentBits = 23;

    private readonly IDevice _device;
    private readonly DeviceLogCommitCheckpointManager _commits;
    private readonly FasterLog _log;
    private int _disposed;

    private FasterOutboxLog(IDevice device, DeviceLogCommitCheckpointManager commits, FasterLog log)
    {
        _device = device;
        _commits = commits;
        _log = log;
    }

    public override int MaxAppendBytes => (1 << PageBits) - 4096;

    /// <summary>Where the log begins: entries before it are delivered.</summary>
    public long BeginAddress => _log.BeginAddress;

    /// <summary>Opens (or creates) the log in <paramref name="root"/>. <paramref name="quarantined"/> names the directory a log
    /// that could not be opened was moved to, or is null.</summary>
    public static FasterOutboxLog Open(string root, out string? quarantined, out Exception? openFailure)
    {
        quarantined = null;
        openFailure = null;
        try
        {
            return Create(root);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not UnauthorizedAccessException)
        {
            // Whatever recovery trips over (FASTER's own exceptions, bad lengths, short files): quarantine, start empty.
            openFailure = ex;
            quarantined = Quarantine(root);
            return Create(root);
        }
    }

    public override int StoredBytes(int payloadLength) => _log.HeaderSize + ((payloadLength + 3) & ~3);

    public override async ValueTask AppendAsync(IReadOnlyList<byte[]> payloads, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (payloads.Count == 1)
        {
            _log.Enqueue(payloads[0]);
        }
        else
        {
            var total = 0;
            foreach (var p in payloads)
            {
                total += StoredBytes(p.Length);
            }

            if (total <= MaxAppendBytes)
            {
                _log.Enqueue(new Batch(payloads)); // one atomic unit: after a crash, all or none
            }
            else
            {
                foreach (var p in payloads)
                {
                    _log.Enqueue(p);
                }
            }
        }

        // The entries are in the log's memory now. Not cancellable from here on: the commit covers them whether the
        // caller waits or not, and an acknowledgement must never be given for something that is not on disk.
        await _log.CommitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public override IReadOnlyList<OutboxRecord> Read(int max)
    {
        var records = new List<OutboxRecord>(Math.Min(max, 256));
        Scan(records, max);
        return records;
    }

    /// <summary>Every durable record in order, for counting at start-up.</summary>
    public void ScanAll(Action<OutboxRecord> visit)
    {
        using var iterator = _log.Scan(_log.BeginAddress, long.MaxValue, name: null, recover: false);
        var expected = _log.BeginAddress;
        while (Next(iterator, ref expected) is { } record)
        {
            visit(record);
        }
    }

    public override async ValueTask TruncateAsync(long untilAddress, CancellationToken cancellationToken)
    {
        _log.TruncateUntil(untilAddress);

        // The new begin address is persisted by the next commit; commit now so a restart does not resend.
        await _log.CommitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _log.Dispose();
        _commits.Dispose();
        _device.Dispose();
    }

    private static FasterOutboxLog Create(string root)
    {
        var logDirectory = Path.Combine(root, LogDirectoryName);
        var commitDirectory = Path.Combine(root, CommitDirectoryName);
        Directory.CreateDirectory(logDirectory);
        Directory.CreateDirectory(commitDirectory);

        var device = Devices.CreateLogDevice(Path.Combine(logDirectory, LogFileName), preallocateFile: false, deleteOnClose: false, recoverDevice: true);
        var commits = new DeviceLogCommitCheckpointManager(
            new LocalStorageNamedDeviceFactory(),
            new DefaultCheckpointNamingScheme(commitDirectory),
            removeOutdated: true);
        try
        {
            var log = new FasterLog(new FasterLogSettings
            {
                LogDevice = device,
                LogCommitManager = commits,
                PageSizeBits = PageBits,
                MemorySizeBits = MemoryBits,
                SegmentSizeBits = SegmentBits,
                LogChecksum = LogChecksumType.PerEntry,
                TryRecoverLatest = true,
                RemoveOutdatedCommits = true,
                AutoCommit = false,
            });
            return new FasterOutboxLog(device, commits, log);
        }
        catch
        {
            commits.Dispose();
            device.Dispose();
            throw;
        }
    }

    /// <summary>Moves <c>log/</c> and <c>commits/</c> to <c>corrupt/</c>, replacing an older quarantine (bounded disk use).</summary>
    private static string Quarantine(string root)
    {
        var quarantine = Path.Combine(root, QuarantineDirectoryName);
        if (Directory.Exists(quarantine))
        {
            Directory.Delete(quarantine, recursive: true);
        }

        Directory.CreateDirectory(quarantine);
        foreach (var name in (string[])[LogDirectoryName, CommitDirectoryName])
        {
            var source = Path.Combine(root, name);
            if (Directory.Exists(source))
            {
                Directory.Move(source, Path.Combine(quarantine, name));
            }
        }

        return quarantine;
    }

    private void Scan(List<OutboxRecord> records, int max)
    {
        using var iterator = _log.Scan(_log.BeginAddress, long.MaxValue, name: null, recover: false);
        var expected = _log.BeginAddress;
        while (records.Count < max && Next(iterator, ref expected) is { } record)
        {
            records.Add(record);
        }
    }

    /// <summary>
    /// The next committed record, a payload-less record for a region the iterator could not read (FASTER's checksum or
    /// length check failed: it resumes past it), or null at the end.
    /// </summary>
    private static OutboxRecord? Next(FasterLogScanIterator iterator, ref long expected)
    {
        try
        {
            if (!iterator.GetNext(out byte[] entry, out var length, out var address, out var next))
            {
                return null;
            }

            var payload = entry.Length == length ? entry : entry.AsSpan(0, length).ToArray();
            expected = next; // an address past the expected one is page padding FASTER skipped
            return new OutboxRecord(address, next, payload);
        }
        catch (FasterException)
        {
            var resume = Math.Max(iterator.NextAddress, expected + 1);
            var damaged = new OutboxRecord(expected, resume, Payload: null);
            expected = resume;
            return damaged;
        }
    }

    /// <summary>Several payloads as one FASTER batch (enqueued atomically, on one page).</summary>
    private sealed class Batch(IReadOnlyList<byte[]> payloads) : IReadOnlySpanBatch
    {
        public int TotalEntries() => payloads.Count;

        public ReadOnlySpan<byte> Get(int index) => payloads[index];
    }
}
