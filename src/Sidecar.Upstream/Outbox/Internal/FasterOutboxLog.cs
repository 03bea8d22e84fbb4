using System.Buffers.Binary;
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
/// <para><b>Damage.</b> Every entry ends with the outbox's own CRC-32C (FASTER's per-entry checksum is off: on a
/// mismatch FASTER's iterator steps 12 bytes on and loses the record boundaries, so valid entries after a bad one
/// would be lost). A record with a bad CRC is returned as it is and skipped by its length; a damaged length header
/// makes the rest of its page one unreadable region (a record without payload); both are set aside by the caller. A
/// log FASTER cannot open at all is moved to <c>corrupt/</c> and the outbox starts empty. Nothing on disk makes
/// opening throw.</para>
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
    public static FasterOutboxLog Open(string root, out string? quarantined, out Exception? openFailure, out int repairedPages)
    {
        quarantined = null;
        openFailure = null;
        repairedPages = 0;
        try
        {
            var log = Create(root);
            repairedPages = RepairLengthHeaders(root, log._log.BeginAddress, log._log.CommittedUntilAddress);
            if (repairedPages == 0)
            {
                return log;
            }

            log.Dispose(); // reopen on the repaired files (the tail page is loaded at recovery)
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
    public void ScanAll(Action<OutboxRecord> visit) => Walk(int.MaxValue, visit);

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
                LogChecksum = LogChecksumType.None, // the entry's own CRC-32C: a bad entry is skipped by its (intact) length
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

    private void Scan(List<OutboxRecord> records, int max) => Walk(max, records.Add);

    /// <summary>
    /// Visits up to <paramref name="max"/> committed records from the begin address. A record whose CRC-32C (the
    /// entry's last 4 bytes, see <c>OutboxCodec</c>) does not match is visited as it is, for the caller to set aside;
    /// its length header was intact, so the walk goes on at the next record. When the length header itself is damaged
    /// (FASTER throws, or two damaged records in a row: the walk lost the record boundaries), the rest of the page is
    /// one unreadable region and the walk resumes at the next page: records never span pages, so a page starts clean.
    /// </summary>
    private void Walk(int max, Action<OutboxRecord> visit)
    {
        var start = _log.BeginAddress;
        var visited = 0;
        while (visited < max)
        {
            var expected = start;
            long? resume = null;
            using (var iterator = _log.Scan(start, long.MaxValue, name: null, recover: false))
            {
                var previousDamaged = false;
                while (visited < max)
                {
                    OutboxRecord record;
                    try
                    {
                        if (!iterator.GetNext(out byte[] entry, out var length, out var address, out var next))
                        {
                            return;
                        }

                        // An address past the expected one is page padding FASTER skipped.
                        record = new OutboxRecord(address, next, entry.Length == length ? entry : entry.AsSpan(0, length).ToArray());
                    }
                    catch (FasterException)
                    {
                        resume = NextPage(expected);
                        break;
                    }

                    var damaged = !HasValidCrc(record.Payload!);
                    if (damaged && previousDamaged)
                    {
                        resume = NextPage(record.Address);
                        break;
                    }

                    visit(record);
                    visited++;
                    expected = record.NextAddress;
                    previousDamaged = damaged;
                }
            }

            if (resume is not { } page || visited >= max)
            {
                return;
            }

            var committed = _log.CommittedUntilAddress;
            if (page >= committed)
            {
                // Nothing readable is left before the committed end: one region up to it, then stop.
                if (committed > expected)
                {
                    visit(new OutboxRecord(expected, committed, Payload: null));
                }

                return;
            }

            visit(new OutboxRecord(expected, page, Payload: null));
            visited++;
            start = page;
        }
    }

    /// <summary>
    /// FASTER's iterator spins forever on some length headers (a negative length, or one so large that its aligned
    /// size overflows), so the committed range is checked before FASTER reads it ("verify before FASTER reads",
    /// DESIGN decision 11): every length header must fit in the rest of its page. From a bad header, the rest of the
    /// page is zeroed in the segment file (FASTER reads zeros as page padding); the caller sees no record there.
    /// Returns how many pages were repaired.
    /// </summary>
    private static int RepairLengthHeaders(string root, long begin, long committed)
    {
        const int PageBytes = 1 << PageBits;
        const long SegmentMask = (1L << SegmentBits) - 1;
        var repaired = 0;
        Span<byte> header = stackalloc byte[4];
        var address = begin;
        while (address < committed)
        {
            var pageEnd = ((address >> PageBits) + 1) << PageBits;
            var file = Path.Combine(root, LogDirectoryName, $"{LogFileName}.{address >> SegmentBits}");
            var length = 0;
            if (File.Exists(file))
            {
                using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read);
                header.Clear();
                RandomAccess.Read(handle, header, address & SegmentMask);
                length = BinaryPrimitives.ReadInt32LittleEndian(header);
            }

            if (length == 0)
            {
                address = pageEnd; // padding (or a missing/short file, which FASTER reads as zeros)
                continue;
            }

            if (length < 0 || length > pageEnd - address - 4)
            {
                using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Write);
                var zeros = new byte[Math.Min(pageEnd - address, PageBytes)];
                RandomAccess.Write(handle, zeros, address & SegmentMask);
                repaired++;
                address = pageEnd;
                continue;
            }

            address += 4 + ((length + 3) & ~3);
        }

        return repaired;
    }

    private static long NextPage(long address) => ((address >> PageBits) + 1) << PageBits;

    private static bool HasValidCrc(byte[] payload) =>
        payload.Length >= 4
        && OutboxCodec.Crc32C(payload.AsSpan(0, payload.Length - 4)) == BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(payload.Length - 4));

    /// <summary>Several payloads as one FASTER batch (enqueued atomically, on one page).</summary>
    private sealed class Batch(IReadOnlyList<byte[]> payloads) : IReadOnlySpanBatch
    {
        public int TotalEntries() => payloads.Count;

        public ReadOnlySpan<byte> Get(int index) => payloads[index];
    }
}
