using System.Globalization;
using System.IO.Hashing;
using System.Text;
using FASTER.core;

namespace Sidecar.Cache.Faster.Internal;

/// <summary>
/// What one checkpoint is on disk, with an XxHash3 digest of every byte FASTER will read to recover it and to serve
/// from it: the checkpoint's files (index, overflow buckets, metadata) and the log range [begin, final) it covers, in
/// chunks. FASTER trusts its files — a flipped bit in a record header or an index entry sends it past the end of a
/// buffer — so a start verifies the manifest before FASTER reads anything, and a mismatch quarantines instead of
/// crashing. Written after FASTER commits the checkpoint (a crash in between leaves the previous manifest, whose
/// checkpoint is still on disk because outdated checkpoints are purged only after the new manifest is written).
/// </summary>
internal sealed record CheckpointManifest(Guid Token, long BeginAddress, long FinalAddress, long ChunkBytes, FileDigest[] Files, ChunkDigest[] Chunks)
{
    public const string FileName = "manifest";
    private const string Header = "sidecar-faster-manifest 1";
    private const long MaxChunkBytes = 1 << 20;
    internal static readonly string[] CheckpointKinds = ["cpr-checkpoints", "index-checkpoints"];

    /// <summary>Digests the checkpoint <paramref name="token"/>; chunks wholly inside the previous manifest's range are immutable on disk and reused.</summary>
    public static CheckpointManifest Build(StoreLayout layout, DeviceLogCommitCheckpointManager checkpoints, Guid token, long segmentBytes, CheckpointManifest? previous)
    {
        var info = ReadLogInfo(checkpoints, token);
        var chunkBytes = Math.Min(MaxChunkBytes, segmentBytes);
        var reuse = previous is { } p && p.ChunkBytes == chunkBytes
            ? p.Chunks.ToDictionary(c => (c.Start, c.End), c => c.Digest)
            : [];

        var chunks = new List<ChunkDigest>();
        var buffer = new byte[chunkBytes];
        for (var start = info.beginAddress; start < info.finalLogicalAddress;)
        {
            var end = Math.Min(((start / chunkBytes) + 1) * chunkBytes, info.finalLogicalAddress);
            if (!reuse.TryGetValue((start, end), out var digest))
            {
                digest = DigestLog(layout, segmentBytes, start, end, buffer) ?? throw new IOException($"Log range [{start}, {end}) is not on disk.");
            }

            chunks.Add(new ChunkDigest(start, end, digest));
            start = end;
        }

        var files = CheckpointFiles(layout, token)
            .Select(path => new FileDigest(Path.GetRelativePath(layout.Checkpoints, path).Replace('\\', '/'), new FileInfo(path).Length, DigestFile(path)))
            .ToArray();
        return new CheckpointManifest(token, info.beginAddress, info.finalLogicalAddress, chunkBytes, files, [.. chunks]);
    }

    /// <summary>The manifest in <paramref name="layout"/>, or null with the reason when there is none or it is damaged.</summary>
    public static CheckpointManifest? TryRead(StoreLayout layout, out string problem)
    {
        problem = string.Empty;
        string text;
        try
        {
            text = File.ReadAllText(layout.Manifest, Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            problem = "no manifest";
            return null;
        }

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length < 3 || lines[0] != Header || !lines[^1].StartsWith("end ", StringComparison.Ordinal)
            || lines[^1][4..] != Hex(XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(string.Join('\n', lines[..^1])))))
        {
            problem = "the manifest is damaged";
            return null;
        }

        try
        {
            var head = lines[1].Split(' ');
            var files = new List<FileDigest>();
            var chunks = new List<ChunkDigest>();
            foreach (var line in lines[2..^1])
            {
                var parts = line.Split(' ');
                switch (parts[0])
                {
                    case "file":
                        files.Add(new FileDigest(parts[1], long.Parse(parts[2], CultureInfo.InvariantCulture), ulong.Parse(parts[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                        break;
                    case "log":
                        chunks.Add(new ChunkDigest(long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture), ulong.Parse(parts[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                        break;
                    default:
                        throw new FormatException($"unknown line '{parts[0]}'");
                }
            }

            return new CheckpointManifest(
                Guid.Parse(head[1]),
                long.Parse(head[2], CultureInfo.InvariantCulture),
                long.Parse(head[3], CultureInfo.InvariantCulture),
                long.Parse(head[4], CultureInfo.InvariantCulture),
                [.. files],
                [.. chunks]);
        }
        catch (Exception ex) when (ex is FormatException or IndexOutOfRangeException or OverflowException)
        {
            problem = $"the manifest is damaged ({ex.Message})";
            return null;
        }
    }

    /// <summary>Writes the manifest durably (temporary file, flush to disk, rename over the old one).</summary>
    public void Write(StoreLayout layout)
    {
        var text = new StringBuilder().Append(Header).Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"checkpoint {Token} {BeginAddress} {FinalAddress} {ChunkBytes}\n");
        foreach (var f in Files)
        {
            text.Append(CultureInfo.InvariantCulture, $"file {f.Path} {f.Length} {Hex(f.Digest)}\n");
        }

        foreach (var c in Chunks)
        {
            text.Append(CultureInfo.InvariantCulture, $"log {c.Start} {c.End} {Hex(c.Digest)}\n");
        }

        var body = text.ToString(0, text.Length - 1);
        text.Append("end ").Append(Hex(XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(body)))).Append('\n');

        var temporary = layout.Manifest + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, layout.Manifest, overwrite: true);
    }

    /// <summary>Null when every file and log chunk on disk matches; else what does not.</summary>
    public string? Verify(StoreLayout layout, long segmentBytes)
    {
        if (ChunkBytes <= 0 || ChunkBytes > segmentBytes || segmentBytes % ChunkBytes != 0)
        {
            return $"the manifest's chunk size {ChunkBytes} does not fit the segment size {segmentBytes}";
        }

        foreach (var f in Files)
        {
            var path = Path.Combine(layout.Checkpoints, f.Path);
            if (!File.Exists(path) || new FileInfo(path).Length != f.Length || DigestFile(path) != f.Digest)
            {
                return $"checkpoint file {f.Path} is missing or damaged";
            }
        }

        var buffer = new byte[ChunkBytes];
        var expected = BeginAddress;
        foreach (var c in Chunks)
        {
            if (c.Start != expected || c.End <= c.Start || c.End - c.Start > ChunkBytes)
            {
                return $"the manifest's log chunks do not cover [{BeginAddress}, {FinalAddress})";
            }

            if (DigestLog(layout, segmentBytes, c.Start, c.End, buffer) != c.Digest)
            {
                return $"log range [{c.Start}, {c.End}) is missing or damaged";
            }

            expected = c.End;
        }

        return expected == FinalAddress ? null : $"the manifest's log chunks do not cover [{BeginAddress}, {FinalAddress})";
    }

    /// <summary>Begin and final address of a checkpoint, from FASTER's own metadata.</summary>
    private static HybridLogRecoveryInfo ReadLogInfo(DeviceLogCommitCheckpointManager checkpoints, Guid token)
    {
        var metadata = checkpoints.GetLogCheckpointMetadata(token, deltaLog: null, scanDelta: false, recoverTo: -1);
        var info = default(HybridLogRecoveryInfo);
        using var reader = new StreamReader(new MemoryStream(metadata));
        info.Initialize(reader);
        return info;
    }

    private static IEnumerable<string> CheckpointFiles(StoreLayout layout, Guid token) =>
        CheckpointKinds
            .Select(kind => Path.Combine(layout.Checkpoints, kind, token.ToString()))
            .Where(System.IO.Directory.Exists)
            .SelectMany(dir => System.IO.Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal);

    private static ulong DigestFile(string path)
    {
        using var stream = File.OpenRead(path);
        var hash = new XxHash3();
        hash.Append(stream);
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>Digest of log addresses [start, end) (within one segment), or null when the segment is missing or short.</summary>
    private static ulong? DigestLog(StoreLayout layout, long segmentBytes, long start, long end, byte[] buffer)
    {
        var path = layout.Segment(start / segmentBytes);
        var length = (int)(end - start);
        try
        {
            using var handle = File.OpenHandle(path);
            var offset = start % segmentBytes;
            var read = 0;
            while (read < length)
            {
                var n = RandomAccess.Read(handle, buffer.AsSpan(read, length - read), offset + read);
                if (n == 0)
                {
                    return null;
                }

                read += n;
            }
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        return XxHash3.HashToUInt64(buffer.AsSpan(0, length));
    }

    private static string Hex(ulong value) => value.ToString("x16", CultureInfo.InvariantCulture);
}

/// <summary>A checkpoint file (path relative to <c>checkpoints/</c>), its length and digest.</summary>
internal readonly record struct FileDigest(string Path, long Length, ulong Digest);

/// <summary>Log addresses [Start, End) and their digest.</summary>
internal readonly record struct ChunkDigest(long Start, long End, ulong Digest);
