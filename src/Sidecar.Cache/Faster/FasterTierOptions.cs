using System.Numerics;

namespace Sidecar.Cache.Faster;

/// <summary>
/// Sizes and timings of the FASTER tier. Every size is explicit: FASTER's own defaults (64 MB index, 32 MB pages,
/// 16 GB log memory, 1 GB segments) would take 76–158 MB before the first customer is stored.
/// Sizes that FASTER needs as powers of two are rounded down to one.
/// </summary>
public sealed record FasterTierOptions
{
    private const long KiB = 1024;
    private const long MiB = 1024 * KiB;
    private const long GiB = 1024 * MiB;

    /// <summary>Bytes of the average customer snapshot on the log, used to size the hash index.</summary>
    internal const long ExpectedRecordBytes = 2 * KiB;

    /// <summary>
    /// Hash buckets (64 bytes each) a new store starts with: 2^10 buckets = 64 KiB of index, room for ~4 k keys before
    /// the index doubles. Every checkpoint writes the whole index, so it starts small and grows with the data.
    /// </summary>
    internal const long InitialIndexBuckets = 1L << 10;

    /// <summary>Fewest buckets the index may grow to, whatever the budget: 2^14 buckets = 1 MiB, ~57 k keys.</summary>
    internal const long MinIndexBuckets = 1L << 14;

    /// <summary>
    /// Most hash buckets derived from a budget: 2^19 buckets = 32 MiB of index (~3.6 M keys before overflow buckets).
    /// A machine-sized index would rewrite hundreds of MiB every interval.
    /// </summary>
    internal const long IndexBucketsCeiling = 1L << 19;

    /// <summary>Directory holding the log segments (<c>log/</c>) and the checkpoints (<c>checkpoints/</c>).</summary>
    public required string Directory { get; init; }

    /// <summary>
    /// In-memory part of the hybrid log (mutable + read-only regions), in bytes; records older than this live only
    /// on disk and are read back with one I/O. Rounded down to a power of two.
    /// </summary>
    public long MemoryBytes { get; init; } = 16 * MiB;

    /// <summary>Log page size in bytes (the unit of flushing and of the largest record). Null: derived, see <see cref="EffectivePageBytes"/>.</summary>
    public long? PageBytes { get; init; }

    /// <summary>Log segment (one file on disk, the unit of truncation) in bytes. Null: derived, see <see cref="EffectiveSegmentBytes"/>.</summary>
    public long? SegmentBytes { get; init; }

    /// <summary>Hash index size a new store starts with, in 64-byte buckets (7 keys each before overflow). Null: <see cref="InitialIndexBuckets"/>.</summary>
    public long? IndexBuckets { get; init; }

    /// <summary>Most buckets the index grows to (it doubles while it holds over 4 entries per bucket). Null: derived, see <see cref="EffectiveMaxIndexBuckets"/>.</summary>
    public long? MaxIndexBuckets { get; init; }

    /// <summary>A periodic checkpoint that takes longer than this faults the store (the disk is not taking writes); persistence resumes on a new one.</summary>
    public TimeSpan CheckpointTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The checkpoint at shutdown is given this long, so a stuck disk cannot hold the process (the previous checkpoint stays).</summary>
    public TimeSpan FinalCheckpointTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a checkpoint is taken, at most one day (a crash loses at most this much of the writes).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Bound on the on-disk log span that triggers compaction. Null: <c>max(8 × MemoryBytes, 64 MiB)</c>.
    /// See <see cref="EffectiveMaxDiskBytes"/> for the bound this gives.
    /// </summary>
    public long? MaxDiskBytes { get; init; }

    /// <summary>
    /// Derives every size from the process cache budget (<c>CACHE_MAX_SIZE_BYTES</c>):
    /// <list type="bullet">
    /// <item>log memory = clamp(budget / 4, 4 MiB, 1 GiB), rounded down to a power of two — the FASTER tier may use a
    /// quarter of what the hot tier may use, so the two together stay within 1.25 × budget plus the index;</item>
    /// <item>page = clamp(log memory / 16, 1 MiB, 4 MiB) — at least 4 pages in memory so flushing overlaps with
    /// appends, and a page holds hundreds of ~2 KB snapshots;</item>
    /// <item>most index buckets = clamp(nextPow2(budget / 2 KiB / 2), 2^14, 2^19): one bucket (64 B, 7 slots) per two
    /// expected customers at ~2 KB each, so chains stay short even when the log holds twice what the hot tier holds (the
    /// index starts at 2^10 buckets and grows to this with the data);</item>
    /// <item>disk bound = <c>max(8 × log memory, 64 MiB)</c> and segment = clamp(disk bound / 8, page, 256 MiB), so
    /// truncation works in steps of at most an eighth of the bound.</item>
    /// </list>
    /// A 1 GiB budget gives 256 MiB log memory, 4 MiB pages, at most 2^18 buckets (16 MiB index), 2 GiB disk bound.
    /// </summary>
    public static FasterTierOptions FromCacheBudget(string directory, long cacheMaxSizeBytes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cacheMaxSizeBytes);

        var memory = PreviousPowerOfTwo(Math.Clamp(cacheMaxSizeBytes / 4, 4 * MiB, 1 * GiB));
        var page = PreviousPowerOfTwo(Math.Clamp(memory / 16, 1 * MiB, 4 * MiB));
        var expectedCustomers = Math.Max(1, cacheMaxSizeBytes / ExpectedRecordBytes);
        var buckets = Math.Clamp(NextPowerOfTwo(expectedCustomers / 2), MinIndexBuckets, IndexBucketsCeiling);
        var disk = DefaultMaxDiskBytes(memory);
        var segment = PreviousPowerOfTwo(Math.Clamp(disk / 8, page, 256 * MiB));

        return new FasterTierOptions
        {
            Directory = directory,
            MemoryBytes = memory,
            PageBytes = page,
            SegmentBytes = segment,
            MaxIndexBuckets = buckets,
            MaxDiskBytes = disk,
        };
    }

    /// <summary>Log memory actually configured (power of two).</summary>
    public long EffectiveMemoryBytes => PreviousPowerOfTwo(MemoryBytes);

    /// <summary><see cref="PageBytes"/> or clamp(memory / 16, 4 KiB, 4 MiB) — at least 4 pages in memory when possible.</summary>
    public long EffectivePageBytes =>
        PreviousPowerOfTwo(PageBytes ?? Math.Clamp(EffectiveMemoryBytes / 16, 4 * KiB, 4 * MiB));

    /// <summary>Buckets a new store starts with: <see cref="IndexBuckets"/> or <see cref="InitialIndexBuckets"/>, at most the maximum.</summary>
    public long EffectiveIndexBuckets => Math.Min(PreviousPowerOfTwo(IndexBuckets ?? InitialIndexBuckets), EffectiveMaxIndexBuckets);

    /// <summary><see cref="MaxIndexBuckets"/> or one bucket per two customers that the log memory holds, 2^14–2^19.</summary>
    public long EffectiveMaxIndexBuckets =>
        PreviousPowerOfTwo(MaxIndexBuckets ?? Math.Clamp(NextPowerOfTwo(EffectiveMemoryBytes / ExpectedRecordBytes / 2), MinIndexBuckets, IndexBucketsCeiling));

    /// <summary>
    /// The log span (tail − begin address, i.e. bytes of log on disk plus the in-memory tail) above which the
    /// maintenance pass compacts. After a compaction the span is at most half of this plus the live records copied
    /// forward, so disk use stays below <c>MaxDiskBytes + one checkpoint interval of writes + one segment</c> as long as
    /// the live data fits in half the bound; beyond that the log holds the live data plus half the bound. Checkpoint
    /// files add the two newest index checkpoints (2 × 64 bytes × buckets, plus overflow buckets) and a few KB of metadata.
    /// </summary>
    public long EffectiveMaxDiskBytes => MaxDiskBytes ?? DefaultMaxDiskBytes(EffectiveMemoryBytes);

    /// <summary><see cref="SegmentBytes"/> or clamp(disk bound / 8, page, 256 MiB).</summary>
    public long EffectiveSegmentBytes =>
        PreviousPowerOfTwo(SegmentBytes ?? Math.Clamp(EffectiveMaxDiskBytes / 8, EffectivePageBytes, 256 * MiB));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("FasterTierOptions.Directory must be set.", nameof(Directory));
        }

        if (PageBytes is { } page && page < 512)
        {
            throw new ArgumentException($"FasterTierOptions.PageBytes must be at least 512 (got {page}).", nameof(PageBytes));
        }

        if (EffectiveMemoryBytes < 2 * EffectivePageBytes)
        {
            throw new ArgumentException(
                $"FasterTierOptions.MemoryBytes ({MemoryBytes}) must hold at least two pages of {EffectivePageBytes} bytes.", nameof(MemoryBytes));
        }

        if (EffectiveSegmentBytes < EffectivePageBytes)
        {
            throw new ArgumentException(
                $"FasterTierOptions.SegmentBytes ({SegmentBytes}) must be at least the page size ({EffectivePageBytes}).", nameof(SegmentBytes));
        }

        if (IndexBuckets is { } buckets && buckets < 8)
        {
            throw new ArgumentException($"FasterTierOptions.IndexBuckets must be at least 8 (got {buckets}).", nameof(IndexBuckets));
        }

        if (MaxIndexBuckets is { } maxBuckets && maxBuckets < 8)
        {
            throw new ArgumentException($"FasterTierOptions.MaxIndexBuckets must be at least 8 (got {maxBuckets}).", nameof(MaxIndexBuckets));
        }

        if (CheckpointTimeout <= TimeSpan.Zero || FinalCheckpointTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("FasterTierOptions.CheckpointTimeout and FinalCheckpointTimeout must be positive.", nameof(CheckpointTimeout));
        }

        if (CheckpointInterval <= TimeSpan.Zero || CheckpointInterval > TimeSpan.FromDays(1))
        {
            throw new ArgumentException(
                $"FasterTierOptions.CheckpointInterval must be between 0 and 1 day, exclusive of 0 (got {CheckpointInterval}).", nameof(CheckpointInterval));
        }

        if (MaxDiskBytes is { } disk && disk < 2 * EffectiveSegmentBytes)
        {
            throw new ArgumentException(
                $"FasterTierOptions.MaxDiskBytes ({disk}) must be at least two segments ({2 * EffectiveSegmentBytes}).", nameof(MaxDiskBytes));
        }
    }

    private static long DefaultMaxDiskBytes(long memoryBytes) => Math.Max(8 * memoryBytes, 64 * MiB);

    internal static long PreviousPowerOfTwo(long value) => value <= 1 ? 1 : (long)BitOperations.RoundUpToPowerOf2((ulong)value + 1) >> 1;

    internal static long NextPowerOfTwo(long value) => value <= 1 ? 1 : (long)BitOperations.RoundUpToPowerOf2((ulong)value);
}
