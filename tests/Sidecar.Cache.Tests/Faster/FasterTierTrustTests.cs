using Sidecar.Cache.Faster;
using Sidecar.Core.Model;
using Sidecar.Testing;

namespace Sidecar.Cache.Tests.Faster;

/// <summary>
/// What a damaged file or a failing disk does to the FASTER tier: never an exception or a crash, never an answer from
/// damaged bytes; disk trouble degrades the tier visibly, shutdown stays bounded, and persistence resumes.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class FasterTierTrustTests : IDisposable
{
    private const int Customers = 1000;
    private readonly TempDirectory _dir = new("sidecar-trust-");
    private readonly VerifyNoErrorsScope _logs = new();

    public void Dispose()
    {
        _dir.Dispose();
        _logs.Dispose();
    }

    private CapturingLogger Logger => _logs.Logger;

    private static FasterTierOptions Options(string directory) => FasterTierTests.TinyOptions(directory);

    private Task<FasterTier> OpenAsync(string directory) =>
        FasterTier.OpenAsync(Options(directory), Logger, TimeProvider.System, CancellationToken.None);

    private static CustomerSnapshot Customer(int i) => Snapshots.Small($"customer-{i:D4}", 1000 + i, usage: i);

    /// <summary>A checkpointed store of <see cref="Customers"/> customers (~25 log pages; most records on disk only once opened).</summary>
    private async Task<string> PristineStoreAsync()
    {
        var directory = Path.Combine(_dir.Path, "pristine");
        var tier = await OpenAsync(directory);
        for (var i = 0; i < Customers; i++)
        {
            await tier.WriteAsync(Customer(i), CancellationToken.None);
        }

        await tier.DisposeAsync();
        return directory;
    }

    /// <summary>Every customer is either exactly what was written or a miss — never something else.</summary>
    private static async Task<int> AssertIntactOrMissingAsync(FasterTier tier)
    {
        var served = 0;
        for (var i = 0; i < Customers; i++)
        {
            var expected = Customer(i);
            if (await tier.ReadAsync(expected.Key, CancellationToken.None) is { } stored)
            {
                Snapshots.AssertSame(expected, stored);
                served++;
            }
        }

        return served;
    }

    public static TheoryData<int> Seeds => [1, 2, 3, 4, 5, 6, 7, 8];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task OpenAsync_RandomBitFlipsAnywhereInTheStore_NeverThrowsNorServesDamage(int seed)
    {
        var pristine = await PristineStoreAsync();
        var random = new Random(seed);
        var files = Directory.GetFiles(pristine, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

        var flipped = 0;
        for (var trial = 0; trial < 5; trial++)
        {
            var copy = Copy(pristine, $"trial-{seed}-{trial}");
            var file = Path.Combine(copy, Path.GetRelativePath(pristine, files[random.Next(files.Length)]));
            var bytes = File.ReadAllBytes(file);
            if (bytes.Length == 0)
            {
                continue;
            }

            var at = random.Next(bytes.Length);
            bytes[at] ^= (byte)(1 << random.Next(8));
            File.WriteAllBytes(file, bytes);

            await using var tier = await OpenAsync(copy);
            var served = await AssertIntactOrMissingAsync(tier);
            Assert.True(tier.RecoveryOutcome == FasterRecoveryOutcome.CorruptStartedEmpty || served == Customers, $"{file}@{at}: {tier.RecoveryOutcome}, {served} served");
            flipped++;

            // The tier works afterwards either way.
            await tier.WriteAsync(Snapshots.Small("after", 7), CancellationToken.None);
            Assert.Equal(7, (await tier.ReadAsync(new CustomerKey("after", null), CancellationToken.None))!.EntitlementsTimestamp);
        }

        Assert.True(flipped >= 4);
    }

    [Fact]
    public async Task OpenAsync_EveryLogPageDamagedInTurn_QuarantinesEachTime()
    {
        var pristine = await PristineStoreAsync();
        var segments = Directory.GetFiles(pristine, "hlog.*", SearchOption.AllDirectories);
        var pages = 0;
        foreach (var segment in segments)
        {
            for (long page = 0; page * 4096 < new FileInfo(segment).Length; page += 2)
            {
                var copy = Copy(pristine, $"page-{Path.GetFileName(segment)}-{page}");
                var file = Path.Combine(copy, Path.GetRelativePath(pristine, segment));
                using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
                {
                    stream.Position = (page * 4096) + 100;
                    stream.Write(new byte[64]); // zeroes a run of bytes, as a lost sector would
                }

                await using var tier = await OpenAsync(copy);
                var served = await AssertIntactOrMissingAsync(tier);
                Assert.True(tier.RecoveryOutcome == FasterRecoveryOutcome.CorruptStartedEmpty || served == Customers);
                pages++;
            }
        }

        Assert.True(pages > 5, $"{pages} pages tried");
        Assert.True(Logger.Has(2112));
    }

    public static TheoryData<string> Damages => ["truncate-segment", "delete-segment", "garbage-manifest", "delete-manifest", "garbage-current", "garbage-index", "empty-metadata"];

    [Theory]
    [MemberData(nameof(Damages))]
    public async Task OpenAsync_DamagedFile_StartsWithoutThrowingAndNeverServesDamage(string damage)
    {
        var store = Directory.GetDirectories(await PristineStoreAsync(), "g*").Single();
        var root = Path.GetDirectoryName(store)!;
        var random = new Random(11);
        switch (damage)
        {
            case "truncate-segment":
                using (var stream = new FileStream(Directory.GetFiles(store, "hlog.*", SearchOption.AllDirectories).Order().First(), FileMode.Open))
                {
                    stream.SetLength(stream.Length / 2);
                }

                break;
            case "delete-segment":
                File.Delete(Directory.GetFiles(store, "hlog.*", SearchOption.AllDirectories).Order().Last());
                break;
            case "garbage-manifest":
                File.WriteAllBytes(Path.Combine(store, "manifest"), RandomBytes(random, 300));
                break;
            case "delete-manifest":
                File.Delete(Path.Combine(store, "manifest"));
                break;
            case "garbage-current":
                File.WriteAllBytes(Path.Combine(root, "current"), RandomBytes(random, 40));
                break;
            case "garbage-index":
                var index = Directory.GetFiles(store, "ht.dat*", SearchOption.AllDirectories).Single();
                File.WriteAllBytes(index, RandomBytes(random, (int)new FileInfo(index).Length));
                break;
            case "empty-metadata":
                foreach (var info in Directory.GetFiles(store, "info.dat*", SearchOption.AllDirectories))
                {
                    File.WriteAllBytes(info, []);
                }

                break;
        }

        await using var tier = await OpenAsync(root);

        Assert.NotEqual(FasterRecoveryOutcome.Recovered, tier.RecoveryOutcome);
        Assert.Equal(0, await AssertIntactOrMissingAsync(tier));
        await tier.WriteAsync(Snapshots.Small("after", 7), CancellationToken.None);
        Assert.NotNull(await tier.ReadAsync(new CustomerKey("after", null), CancellationToken.None));
    }

    [Fact]
    public async Task OpenAsync_AfterAStartThatStoppedDuringRecovery_Quarantines()
    {
        var root = await PristineStoreAsync();
        var store = Directory.GetDirectories(root, "g*").Single();
        File.WriteAllBytes(Path.Combine(store, "recovering"), []); // what a start that crashed inside FASTER's recovery leaves

        await using var tier = await OpenAsync(root);

        Assert.Equal(FasterRecoveryOutcome.CorruptStartedEmpty, tier.RecoveryOutcome);
        Assert.Contains(Logger.Entries, e => e.EventId.Id == 2112 && e.Message.Contains("stopped while recovering", StringComparison.Ordinal));
        Assert.True(Directory.Exists(Path.Combine(root, "corrupt", Path.GetFileName(store))));
    }

    [Fact]
    public async Task OpenAsync_StoreOfAnEarlierLayout_IsQuarantined()
    {
        var root = Path.Combine(_dir.Path, "legacy");
        Directory.CreateDirectory(Path.Combine(root, "log"));
        Directory.CreateDirectory(Path.Combine(root, "checkpoints", "cpr-checkpoints", Guid.NewGuid().ToString()));
        File.WriteAllBytes(Path.Combine(root, "log", "hlog.0"), RandomBytes(new Random(3), 4096));

        await using var tier = await OpenAsync(root);

        Assert.Equal(FasterRecoveryOutcome.Empty, tier.RecoveryOutcome);
        Assert.True(Directory.Exists(Path.Combine(root, "corrupt", "log")));
        Assert.False(Directory.Exists(Path.Combine(root, "log")));
    }

    [Fact]
    public async Task MaintainAsync_ManyCustomers_GrowsTheIndexFromSmallAndRecoversIt()
    {
        var root = Path.Combine(_dir.Path, "grow");
        var options = Options(root) with { IndexBuckets = 64, MaxIndexBuckets = 1024 };
        var tier = await FasterTier.OpenAsync(options, Logger, TimeProvider.System, CancellationToken.None);
        Assert.Equal(64, tier.IndexBuckets);
        await tier.WriteAsync(Customer(0), CancellationToken.None);
        await tier.MaintainAsync(CancellationToken.None);
        var smallIndexFile = IndexFileBytes(root);

        for (var i = 0; i < 3000; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"grow-{i}", 1), CancellationToken.None);
        }

        for (var step = 0; step < 6; step++)
        {
            await tier.MaintainAsync(CancellationToken.None);
        }

        Assert.Equal(1024, tier.IndexBuckets); // 3000 entries need 750 buckets at 4 per bucket: grown to the ceiling
        Assert.True(Logger.Has(2118));
        Assert.True(IndexFileBytes(root) >= 16 * smallIndexFile, $"{smallIndexFile} -> {IndexFileBytes(root)}");
        await tier.DisposeAsync();

        await using var reopened = await FasterTier.OpenAsync(options, Logger, TimeProvider.System, CancellationToken.None);
        Assert.Equal(1024, reopened.IndexBuckets);
        for (var i = 0; i < 3000; i += 7)
        {
            Assert.NotNull(await reopened.ReadAsync(new CustomerKey($"grow-{i}", null), CancellationToken.None));
        }
    }

    [Fact]
    public async Task DiskFull_DegradesVisiblyClosesPromptlyAndResumesWhenSpaceReturns()
    {
        using var disk = new SmallFilesystem(3 * 1024 * 1024);
        var root = Path.Combine(disk.Path, "cache");
        var tier = await OpenAsync(root);
        await tier.WriteAsync(Customer(0), CancellationToken.None);
        Assert.True(await tier.CheckpointAsync(CancellationToken.None));
        var filler = disk.Fill(leaveBytes: 0);

        // Writing on fills the log's next pages, whose flush the disk refuses.
        for (var i = 0; i < 5000 && !tier.Degraded; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"more-{i}", 1), CancellationToken.None);
        }

        await tier.MaintainAsync(CancellationToken.None);
        Assert.True(tier.Degraded);
        Assert.Contains("No space left on device", tier.DegradedCause, StringComparison.Ordinal);
        Assert.Single(Logger.Entries, e => e.EventId.Id == 2114);
        Assert.Equal(1, tier.Faults);
        Assert.Null(await tier.ReadAsync(Customer(0).Key, CancellationToken.None)); // nothing served from a store that cannot keep up
        await tier.WriteAsync(Customer(1), CancellationToken.None);
        Assert.True(tier.SkippedWrites > 0);

        // Still full (deleting the faulted store's files frees less than a new store needs): the probe fails quietly.
        await tier.MaintainAsync(CancellationToken.None);
        Assert.True(tier.Degraded);
        Assert.Single(Logger.Entries, e => e.EventId.Id == 2114);

        File.Delete(filler);
        await tier.MaintainAsync(CancellationToken.None);
        Assert.False(tier.Degraded);
        Assert.Equal(1, tier.Resumes);
        Assert.True(Logger.Has(2115));
        await AssertPersistsAgainAsync(tier, root);
    }

    [Fact]
    public async Task DiskFullDuringShutdown_CloseIsBounded()
    {
        using var disk = new SmallFilesystem(3 * 1024 * 1024);
        var root = Path.Combine(disk.Path, "cache");
        var tier = await FasterTier.OpenAsync(Options(root) with { FinalCheckpointTimeout = TimeSpan.FromSeconds(2) }, Logger, TimeProvider.System, CancellationToken.None);
        await tier.WriteAsync(Customer(0), CancellationToken.None);
        Assert.True(await tier.CheckpointAsync(CancellationToken.None));
        disk.Fill(leaveBytes: 0);
        for (var i = 0; i < 400; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"more-{i}", 1), CancellationToken.None);
        }

        // Completes (the test's own timeout would catch a hang); the previous checkpoint stays the one recovered.
        await tier.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(Logger.Has(2111));
    }

    [Fact]
    public async Task DirectoryDeleted_DegradesThenResumesInARecreatedDirectory()
    {
        var root = Path.Combine(_dir.Path, "deleted");
        var tier = await OpenAsync(root);
        await tier.WriteAsync(Customer(0), CancellationToken.None);
        Assert.True(await tier.CheckpointAsync(CancellationToken.None));

        Directory.Delete(root, recursive: true);
        await tier.WriteAsync(Customer(1), CancellationToken.None);
        Assert.False(await tier.CheckpointAsync(CancellationToken.None));
        Assert.True(tier.Degraded);
        Assert.Contains("is gone", tier.DegradedCause, StringComparison.Ordinal);

        await tier.MaintainAsync(CancellationToken.None);
        Assert.False(tier.Degraded);
        await AssertPersistsAgainAsync(tier, root);
    }

    [Fact]
    public async Task ReadOnlyFilesystem_RunsWithoutPersistenceWithOneWarning()
    {
        using var disk = new SmallFilesystem(4 * 1024 * 1024);
        var root = Path.Combine(disk.Path, "cache");
        var tier = await OpenAsync(root);
        await tier.WriteAsync(Customer(0), CancellationToken.None);
        await tier.DisposeAsync();
        File.WriteAllBytes(Path.Combine(Directory.GetDirectories(root, "g*").Single(), "recovering"), []); // forces a quarantine
        disk.Remount(readOnly: true);

        await using (var readOnly = await OpenAsync(root))
        {
            Assert.Equal(FasterRecoveryOutcome.Unavailable, readOnly.RecoveryOutcome);
            Assert.True(readOnly.Degraded);
            Assert.Contains("Read-only file system", readOnly.DegradedCause, StringComparison.Ordinal);
            Assert.Single(Logger.Warnings);
            Assert.Null(await readOnly.ReadAsync(Customer(0).Key, CancellationToken.None));
            await readOnly.WriteAsync(Customer(1), CancellationToken.None);
            Assert.False(await readOnly.MaintainAsync(CancellationToken.None)); // probes quietly, still read-only
            Assert.Single(Logger.Warnings);

            // Writable again: the next step resumes persistence.
            disk.Remount(readOnly: false);
            await readOnly.MaintainAsync(CancellationToken.None);
            Assert.False(readOnly.Degraded);
        }
    }

    /// <summary>A write after resuming survives close and reopen: persistence really resumed.</summary>
    private async Task AssertPersistsAgainAsync(FasterTier tier, string root)
    {
        await tier.WriteAsync(Customer(2), CancellationToken.None);
        await tier.DisposeAsync();

        await using var reopened = await OpenAsync(root);
        Assert.Equal(FasterRecoveryOutcome.Recovered, reopened.RecoveryOutcome);
        Snapshots.AssertSame(Customer(2), await reopened.ReadAsync(Customer(2).Key, CancellationToken.None));
    }

    private static long IndexFileBytes(string root) =>
        Directory.GetFiles(root, "ht.dat*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private string Copy(string source, string name)
    {
        var target = Path.Combine(_dir.Path, name);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }

        return target;
    }
}
