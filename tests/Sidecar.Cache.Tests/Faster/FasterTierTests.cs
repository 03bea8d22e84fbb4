using Sidecar.Cache.Faster;
using Sidecar.Core.Model;
using Sidecar.Testing;

namespace Sidecar.Cache.Tests.Faster;

[Collection(StressCollection.Name)]
public sealed class FasterTierTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new("sidecar-faster-");
    private readonly VerifyNoErrorsScope _logs = new();

    private CapturingLogger Logger => _logs.Logger;

    public void Dispose()
    {
        _dir.Dispose();
        _logs.Dispose();
    }

    /// <summary>Log memory of 64 KiB in 4 KiB pages: a few hundred small snapshots fit, the rest go to disk.</summary>
    internal static FasterTierOptions TinyOptions(string directory) => new()
    {
        Directory = directory,
        MemoryBytes = 64 * 1024,
        PageBytes = 4 * 1024,
        SegmentBytes = 64 * 1024,
        IndexBuckets = 1 << 10,
        CheckpointInterval = TimeSpan.FromHours(1),
    };

    private FasterTierOptions TinyOptions() => TinyOptions(_dir.Path);

    private Task<FasterTier> OpenAsync(FasterTierOptions? options = null) =>
        FasterTier.OpenAsync(options ?? TinyOptions(), Logger, TimeProvider.System, CancellationToken.None);

    [Fact]
    public async Task OpenAsync_EmptyDirectory_StartsEmpty()
    {
        await using var tier = await OpenAsync();

        Assert.Equal(FasterRecoveryOutcome.Empty, tier.RecoveryOutcome);
        Assert.False(tier.Recovered);
        Assert.Equal(0, tier.RecoveredVersion);
        Assert.Equal("faster", tier.Name);
        Assert.Null(await tier.ReadAsync(new CustomerKey("nobody", null), CancellationToken.None));
    }

    [Fact]
    public async Task WriteAsync_ThenRead_ReturnsEverySnapshotField()
    {
        await using var tier = await OpenAsync();
        var full = Snapshots.Full();
        var global = Snapshots.Small("acme", 10);

        await tier.WriteAsync(full, CancellationToken.None);
        await tier.WriteAsync(global, CancellationToken.None);

        Snapshots.AssertSame(full, await tier.ReadAsync(full.Key, CancellationToken.None));
        Snapshots.AssertSame(global, await tier.ReadAsync(new CustomerKey("acme", null), CancellationToken.None));
        Assert.Null(await tier.ReadAsync(new CustomerKey("acme", "other"), CancellationToken.None));
    }

    [Fact]
    public async Task ReadAsync_RecordsFlushedToDisk_AreReadBackThroughPendingIo()
    {
        await using var tier = await OpenAsync();
        const int Customers = 3000;
        for (var i = 0; i < Customers; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"customer-{i:D5}", 1000 + i, usage: i), CancellationToken.None);
        }

        // Most of the log is below the head address, i.e. only on disk.
        var span = tier.LogTailAddress - tier.LogBeginAddress;
        Assert.True(tier.LogHeadAddress - tier.LogBeginAddress > span * 8 / 10, $"head {tier.LogHeadAddress}, tail {tier.LogTailAddress}");

        for (var i = 0; i < Customers; i++)
        {
            var stored = await tier.ReadAsync(new CustomerKey($"customer-{i:D5}", null), CancellationToken.None);
            Assert.NotNull(stored);
            Assert.Equal(1000 + i, stored.EntitlementsTimestamp);
            Assert.Equal(i, stored.Features[0].CurrentUsage);
        }

        // Guards and read-modify-write also work against records that are on disk.
        var first = new CustomerKey("customer-00000", null);
        await tier.WriteAsync(Snapshots.Small("customer-00000", 1, usage: -1), CancellationToken.None);
        await tier.WriteUsageAsync(first, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 77, null, null, 5), CancellationToken.None);
        var updated = await tier.ReadAsync(first, CancellationToken.None);
        Assert.Equal(1000, updated!.EntitlementsTimestamp);
        Assert.Equal(77, updated.Features[0].CurrentUsage);
        Assert.Empty(Logger.Warnings);
    }

    [Fact]
    public async Task ReadAsync_RecordDamagedOnDiskWhileOpen_IsAMissCountedAndRemoved()
    {
        await using var tier = await OpenAsync();
        var victim = new CustomerSnapshot(
            new CustomerKey("victim", null),
            null,
            [new FeatureEntitlement { FeatureId = "feature-marker-3f9a" }],
            [],
            entitlementsTimestamp: 500,
            fetchedAt: 500);
        await tier.WriteAsync(victim, CancellationToken.None);
        await tier.WriteAsync(Snapshots.Small("bystander", 1), CancellationToken.None);

        // Push both to disk (64 KiB of log memory), then damage one byte of the victim's value in the segment file:
        // FASTER reads it back as is, and only the record's checksum can tell.
        for (var i = 0; i < 2000; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"filler-{i}", 1), CancellationToken.None);
        }

        Assert.True(tier.LogHeadAddress > 4096);
        Assert.Equal(1, FlipInSegments(StoreDirectory, "feature-marker-3f9a"u8.ToArray(), offset: 3));

        Assert.Null(await tier.ReadAsync(victim.Key, CancellationToken.None));
        Assert.Equal(1, tier.CorruptRecords);
        Assert.True(Logger.Has(2104));
        Assert.NotNull(await tier.ReadAsync(new CustomerKey("bystander", null), CancellationToken.None));

        // The bad record was removed, so an older version is no longer blocked by its timestamp.
        await tier.WriteAsync(Snapshots.Small("victim", 1), CancellationToken.None);
        Assert.Equal(1, (await tier.ReadAsync(victim.Key, CancellationToken.None))!.EntitlementsTimestamp);
    }

    /// <summary>The single store generation under the tier directory.</summary>
    private string StoreDirectory => Directory.GetDirectories(_dir.Path, "g*").Single();

    /// <summary>Flips every bit of the byte <paramref name="offset"/> past each occurrence of <paramref name="marker"/> in the log segments.</summary>
    internal static int FlipInSegments(string storeDirectory, byte[] marker, int offset)
    {
        var flipped = 0;
        foreach (var segment in Directory.GetFiles(Path.Combine(storeDirectory, "log")))
        {
            var bytes = File.ReadAllBytes(segment);
            var at = bytes.AsSpan().IndexOf(marker);
            if (at >= 0)
            {
                using var stream = new FileStream(segment, FileMode.Open, FileAccess.Write);
                stream.Position = at + offset;
                stream.WriteByte((byte)~bytes[at + offset]);
                flipped++;
            }
        }

        return flipped;
    }

    [Fact]
    public async Task DisposeAsync_ThenReopen_RecoversCheckpointedData()
    {
        var options = TinyOptions();
        var tier = await OpenAsync(options);
        for (var i = 0; i < 1000; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"c{i}", 10 + i), CancellationToken.None);
        }

        await tier.RemoveAsync(new CustomerKey("c7", null), CancellationToken.None);
        await tier.WriteAsync(Snapshots.Full(), CancellationToken.None);
        await tier.DisposeAsync();

        await using var reopened = await OpenAsync(options);

        Assert.Equal(FasterRecoveryOutcome.Recovered, reopened.RecoveryOutcome);
        Assert.True(reopened.Recovered);
        Assert.True(reopened.RecoveredVersion > 0);
        for (var i = 0; i < 1000; i++)
        {
            var stored = await reopened.ReadAsync(new CustomerKey($"c{i}", null), CancellationToken.None);
            if (i == 7)
            {
                Assert.Null(stored);
            }
            else
            {
                Assert.Equal(10 + i, stored!.EntitlementsTimestamp);
            }
        }

        Snapshots.AssertSame(Snapshots.Full(), await reopened.ReadAsync(Snapshots.Full().Key, CancellationToken.None));

        // The recovered store keeps working, guards included.
        await reopened.WriteAsync(Snapshots.Small("c1", 5), CancellationToken.None);
        Assert.Equal(11, (await reopened.ReadAsync(new CustomerKey("c1", null), CancellationToken.None))!.EntitlementsTimestamp);
        Assert.Empty(Logger.Warnings);
    }

    [Fact]
    public async Task Crash_AfterCheckpoint_LosesOnlyWritesSinceTheCheckpoint()
    {
        var options = TinyOptions();
        var tier = await OpenAsync(options);
        for (var i = 0; i < 500; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"before-{i}", 1), CancellationToken.None);
        }

        Assert.True(await tier.CheckpointAsync(CancellationToken.None));
        Assert.False(await tier.CheckpointAsync(CancellationToken.None)); // nothing changed since
        for (var i = 0; i < 500; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"after-{i}", 1), CancellationToken.None);
        }

        await tier.WriteAsync(Snapshots.Small("before-0", 2), CancellationToken.None);
        await tier.CloseAsync(finalCheckpoint: false);

        await using var reopened = await OpenAsync(options);

        Assert.Equal(FasterRecoveryOutcome.Recovered, reopened.RecoveryOutcome);
        for (var i = 0; i < 500; i++)
        {
            Assert.NotNull(await reopened.ReadAsync(new CustomerKey($"before-{i}", null), CancellationToken.None));
            Assert.Null(await reopened.ReadAsync(new CustomerKey($"after-{i}", null), CancellationToken.None));
        }

        Assert.Equal(1, (await reopened.ReadAsync(new CustomerKey("before-0", null), CancellationToken.None))!.EntitlementsTimestamp);

        // Writes after recovery overwrite the un-checkpointed tail cleanly.
        await reopened.WriteAsync(Snapshots.Small("after-3", 9), CancellationToken.None);
        Assert.Equal(9, (await reopened.ReadAsync(new CustomerKey("after-3", null), CancellationToken.None))!.EntitlementsTimestamp);
    }

    [Fact]
    public async Task Crash_BeforeFirstCheckpoint_StartsEmptyAndDiscardsOrphanLog()
    {
        var options = TinyOptions();
        var tier = await OpenAsync(options);
        for (var i = 0; i < 1000; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"c{i}", 1), CancellationToken.None);
        }

        await tier.CloseAsync(finalCheckpoint: false);

        await using var reopened = await OpenAsync(options);

        Assert.Equal(FasterRecoveryOutcome.Empty, reopened.RecoveryOutcome);
        Assert.True(Logger.Has(2102));
        Assert.Null(await reopened.ReadAsync(new CustomerKey("c1", null), CancellationToken.None));
    }

    [Fact]
    public async Task MaintainAsync_AfterWrites_TakesCheckpointThatSurvivesACrash()
    {
        var options = TinyOptions();
        var tier = await OpenAsync(options);
        await tier.WriteAsync(Snapshots.Small("acme", 1), CancellationToken.None);

        Assert.False(await tier.MaintainAsync(CancellationToken.None)); // checkpoint only: the log is within its bound
        Assert.True(Logger.Has(2106));
        await tier.CloseAsync(finalCheckpoint: false);

        await using var reopened = await OpenAsync(options);
        Assert.Equal(FasterRecoveryOutcome.Recovered, reopened.RecoveryOutcome);
        Assert.NotNull(await reopened.ReadAsync(new CustomerKey("acme", null), CancellationToken.None));
    }

    public static TheoryData<string> Corruptions => ["garble", "truncate-empty", "truncate-body", "delete-log", "truncate-log"];

    [Theory]
    [MemberData(nameof(Corruptions))]
    public async Task OpenAsync_CorruptCheckpoint_StartsEmptyWithoutThrowing(string corruption)
    {
        var options = TinyOptions();
        var tier = await OpenAsync(options);
        for (var i = 0; i < 200; i++)
        {
            await tier.WriteAsync(Snapshots.Small($"c{i}", 1), CancellationToken.None);
        }

        await tier.DisposeAsync();
        Corrupt(corruption);

        var reopened = await OpenAsync(options);

        Assert.Equal(FasterRecoveryOutcome.CorruptStartedEmpty, reopened.RecoveryOutcome);
        Assert.False(reopened.Recovered);
        Assert.True(Logger.Has(2112));
        Assert.Single(Directory.GetDirectories(Path.Combine(_dir.Path, "corrupt"), "g*"));
        Assert.Null(await reopened.ReadAsync(new CustomerKey("c1", null), CancellationToken.None));

        // The fresh store works and checkpoints normally.
        await reopened.WriteAsync(Snapshots.Small("fresh", 3), CancellationToken.None);
        await reopened.DisposeAsync();
        await using var again = await OpenAsync(options);
        Assert.Equal(FasterRecoveryOutcome.Recovered, again.RecoveryOutcome);
        Assert.Equal(3, (await again.ReadAsync(new CustomerKey("fresh", null), CancellationToken.None))!.EntitlementsTimestamp);
    }

    private void Corrupt(string corruption)
    {
        var store = StoreDirectory;
        var checkpoints = Path.Combine(store, "checkpoints");
        var metadata = Directory.GetFiles(checkpoints, "info.dat*", SearchOption.AllDirectories);
        Assert.NotEmpty(metadata);
        var random = new Random(7);
        foreach (var file in metadata)
        {
            var length = new FileInfo(file).Length;
            switch (corruption)
            {
                case "garble":
                    var bytes = new byte[length];
                    random.NextBytes(bytes);
                    File.WriteAllBytes(file, bytes);
                    break;
                case "truncate-empty":
                    File.WriteAllBytes(file, []);
                    break;
                case "truncate-body":
                    // Keeps the length prefix and the start of the text, cuts the rest.
                    using (var stream = new FileStream(file, FileMode.Open))
                    {
                        stream.SetLength(12);
                    }

                    break;
                case "delete-log":
                    // Metadata intact, but the log it points into is gone.
                    foreach (var segment in Directory.GetFiles(Path.Combine(store, "log")))
                    {
                        File.Delete(segment);
                    }

                    break;
                case "truncate-log":
                    foreach (var segment in Directory.GetFiles(Path.Combine(store, "log")))
                    {
                        using var stream = new FileStream(segment, FileMode.Open);
                        stream.SetLength(100);
                    }

                    break;
            }
        }
    }

    [Fact]
    public async Task MaintainAsync_LogBeyondDiskBound_CompactsAndKeepsLatestData()
    {
        var options = TinyOptions() with { MaxDiskBytes = 256 * 1024, SegmentBytes = 32 * 1024 };
        var tier = await OpenAsync(options);
        const int Customers = 200;
        for (var round = 1; round <= 20; round++)
        {
            for (var i = 0; i < Customers; i++)
            {
                await tier.WriteAsync(Snapshots.Small($"c{i}", round, usage: round * 1000 + i), CancellationToken.None);
            }
        }

        for (var i = 0; i < Customers; i += 10)
        {
            await tier.RemoveAsync(new CustomerKey($"c{i}", null), CancellationToken.None);
        }

        var beginBefore = tier.LogBeginAddress;
        var spanBefore = tier.LogTailAddress - beginBefore;
        Assert.True(spanBefore > options.EffectiveMaxDiskBytes);

        Assert.True(await tier.MaintainAsync(CancellationToken.None));

        Assert.True(tier.LogBeginAddress > beginBefore);
        Assert.True(tier.LogTailAddress - tier.LogBeginAddress < spanBefore);
        Assert.True(Logger.Has(2109));
        await AssertLatestAsync(tier);

        // The compacted store recovers to the same data without any segment below the new begin address.
        var newBegin = tier.LogBeginAddress;
        await tier.CloseAsync(finalCheckpoint: false);
        DeleteSegmentsBelow(newBegin, options.EffectiveSegmentBytes);
        await using var reopened = await OpenAsync(options);
        Assert.Equal(FasterRecoveryOutcome.Recovered, reopened.RecoveryOutcome);
        Assert.True(reopened.LogBeginAddress > beginBefore);
        await AssertLatestAsync(reopened);
        Assert.Empty(Logger.Warnings);

        static async Task AssertLatestAsync(FasterTier tier)
        {
            for (var i = 0; i < Customers; i++)
            {
                var stored = await tier.ReadAsync(new CustomerKey($"c{i}", null), CancellationToken.None);
                if (i % 10 == 0)
                {
                    Assert.Null(stored);
                }
                else
                {
                    Assert.Equal(20, stored!.EntitlementsTimestamp);
                    Assert.Equal(20_000 + i, stored.Features[0].CurrentUsage);
                }
            }
        }
    }

    /// <summary>Deletes log segments wholly below <paramref name="address"/> (FASTER truncates them in the background).</summary>
    private void DeleteSegmentsBelow(long address, long segmentBytes)
    {
        foreach (var file in Directory.GetFiles(Path.Combine(StoreDirectory, "log"), "hlog.*"))
        {
            var segment = long.Parse(Path.GetExtension(file).TrimStart('.'), System.Globalization.CultureInfo.InvariantCulture);
            if ((segment + 1) * segmentBytes <= address)
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task MaintainAsync_LogWithinDiskBound_DoesNotCompact()
    {
        await using var tier = await OpenAsync(TinyOptions() with { MaxDiskBytes = 64 * 1024 * 1024 });
        await tier.WriteAsync(Snapshots.Small("acme", 1), CancellationToken.None);
        var begin = tier.LogBeginAddress;

        Assert.False(await tier.MaintainAsync(CancellationToken.None));

        Assert.Equal(begin, tier.LogBeginAddress);
        Assert.True(Logger.Has(2106));
    }

    [Fact]
    public async Task ConcurrentReadersAndWriters_ManyTasks_EndWithNewestVersions()
    {
        await using var tier = await OpenAsync();
        const int Keys = 64;
        const int Writers = 8;
        const int VersionsPerWriter = 40;
        for (var k = 0; k < Keys; k++)
        {
            await tier.WriteAsync(Snapshots.Small($"k{k}", 0), CancellationToken.None);
        }

        using var stop = new CancellationTokenSource();
        var readErrors = 0;
        var readers = Enumerable.Range(0, 4).Select(r => Task.Run(async () =>
        {
            var n = r;
            while (!stop.IsCancellationRequested)
            {
                var key = new CustomerKey($"k{n++ % Keys}", null);
                if (await tier.ReadAsync(key, CancellationToken.None) is not { } s || s.Key != key)
                {
                    Interlocked.Increment(ref readErrors);
                }
            }
        })).ToArray();

        // Writers interleave versions: writer w writes timestamps w+1, w+1+Writers, ...; usage updates race with them.
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var v = 0; v < VersionsPerWriter; v++)
            {
                var timestamp = 1 + w + (v * Writers);
                for (var k = w % 4; k < Keys; k += 4)
                {
                    await tier.WriteAsync(Snapshots.Small($"k{k}", timestamp, usage: 0, usageAt: 0), CancellationToken.None);
                    await tier.WriteUsageAsync(new CustomerKey($"k{k}", null), new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", timestamp, null, null, timestamp), CancellationToken.None);
                }
            }
        })).ToArray();

        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(45));
        await stop.CancelAsync();
        await Task.WhenAll(readers).WaitAsync(Timeout);

        Assert.Equal(0, readErrors);
        for (var k = 0; k < Keys; k++)
        {
            var expected = Enumerable.Range(0, Writers).Where(w => w % 4 == k % 4).Max(w => 1 + w + ((VersionsPerWriter - 1) * Writers));
            var stored = await tier.ReadAsync(new CustomerKey($"k{k}", null), CancellationToken.None);
            Assert.Equal(expected, stored!.EntitlementsTimestamp);
            Assert.Equal(expected, stored.Features[0].CurrentUsage);
            Assert.Equal(expected, stored.Features[0].UsageUpdatedAt);
        }

        Assert.Empty(Logger.Warnings);
    }

    [Fact]
    public async Task DisposeAsync_Twice_IsSafeAndLaterCallsAreMisses()
    {
        var tier = await OpenAsync();
        await tier.WriteAsync(Snapshots.Small("acme", 1), CancellationToken.None);

        await tier.DisposeAsync();
        await tier.DisposeAsync();

        Assert.Null(await tier.ReadAsync(new CustomerKey("acme", null), CancellationToken.None));
        await tier.WriteAsync(Snapshots.Small("acme", 2), CancellationToken.None);
        Assert.False(await tier.CheckpointAsync(CancellationToken.None));
        Assert.False(await tier.MaintainAsync(CancellationToken.None));
    }

    [Fact]
    public async Task OpenAsync_InvalidOptions_ThrowsNamingTheSetting()
    {
        var options = TinyOptions() with { MemoryBytes = 4096, PageBytes = 4096 };

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => OpenAsync(options));

        Assert.Contains("MemoryBytes", ex.Message, StringComparison.Ordinal);
    }
}
