using System.Diagnostics;
using System.Text;
using Sidecar.Core.Model;
using Sidecar.Testing;
using Sidecar.Upstream.Outbox;
using Xunit.Abstractions;

namespace Sidecar.Upstream.Tests.Outbox;

/// <summary>The usage outbox on its own: durability, order, limit, delivery outcomes, damage, the in-memory variant.</summary>
public sealed class UsageOutboxTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new("outbox-test-");
    private readonly CapturingLogger _logger = new();
    private readonly List<UsageOutbox> _open = [];

    public void Dispose()
    {
        foreach (var outbox in _open)
        {
            outbox.Dispose();
        }

        _dir.Dispose();
    }

    [Fact]
    public async Task Append_ReopenedAfterACrash_RecoversEveryEntryInOrderWithItsKey()
    {
        var crashed = Open();
        var appended = new List<OutboxEntry>();
        for (var i = 0; i < 30; i++)
        {
            appended.AddRange(i % 3 == 2
                ? await crashed.AppendEventsAsync([Event(i)], CancellationToken.None)
                : await crashed.AppendUsageAsync([Usage(i)], CancellationToken.None));
        }

        // No Dispose: the first instance is abandoned as a killed process would leave it; only its commits count.
        var reopened = Open();
        Assert.Equal(30, reopened.Depth);
        Assert.True(reopened.OldestEntryAge >= TimeSpan.Zero);

        var sender = new RecordingSender();
        await DrainAsync(reopened, sender);

        Assert.Equal(appended.Select(e => e.IdempotencyKey), sender.Keys);
        Assert.All(appended, e => Assert.False(string.IsNullOrEmpty(e.IdempotencyKey)));
        var usage = sender.Usage.First(u => u.IdempotencyKey == appended[0].IdempotencyKey);
        Assert.Equal(appended[0].Usage, usage with { Dimensions = appended[0].Usage!.Dimensions });
        Assert.Equal(appended[0].Usage!.Dimensions!.OrderBy(d => d.Key).Select(d => $"{d.Key}={d.Value}"), usage.Dimensions!.OrderBy(d => d.Key).Select(d => $"{d.Key}={d.Value}"));
        Assert.Equal(30, reopened.DeliveredCount);
        Assert.Equal(0, reopened.Depth);
        Assert.Equal(TimeSpan.Zero, reopened.OldestEntryAge);
    }

    [Fact]
    public async Task Append_AReportWithAKey_KeepsIt_AndOneWithout_GetsANanoId()
    {
        var outbox = Open();

        var entries = await outbox.AppendUsageAsync(
            [Usage(1) with { IdempotencyKey = "client-key-1" }, Usage(2) with { IdempotencyKey = null }],
            CancellationToken.None);

        Assert.Equal("client-key-1", entries[0].IdempotencyKey);
        Assert.Equal(21, entries[1].IdempotencyKey.Length);
    }

    [Fact]
    public async Task Delivery_ReopenedAfterDelivering_DoesNotResend()
    {
        var first = Open();
        await first.AppendUsageAsync([Usage(1), Usage(2), Usage(3)], CancellationToken.None);
        await DrainAsync(first, new RecordingSender());

        var reopened = Open(); // first is not disposed: the truncation must already be on disk

        Assert.Equal(0, reopened.Depth);
        var sender = new RecordingSender();
        Assert.True((await reopened.DeliverOnceAsync(sender, null, CancellationToken.None)).Idle);
        Assert.Empty(sender.Keys);
    }

    [Fact]
    public async Task Append_ConcurrentWriters_EveryAcknowledgedReportIsDurable_CostLogged()
    {
        var outbox = Open();
        const int Sequential = 200;
        const int Writers = 8;
        const int PerWriter = 50;

        await outbox.AppendUsageAsync([Usage(-1)], CancellationToken.None); // first commit (and JIT) outside the measurement
        var sw = Stopwatch.StartNew();
        await Task.Run(async () =>
        {
            for (var i = 0; i < Sequential; i++)
            {
                await outbox.AppendUsageAsync([Usage(i)], CancellationToken.None);
            }
        });
        var sequential = sw.Elapsed;
        sw.Restart();
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                await outbox.AppendUsageAsync([Usage((w * 1000) + i)], CancellationToken.None);
            }
        })));
        var concurrent = sw.Elapsed;

        // Not an assertion on time (benchmarks measure, bench/Sidecar.OutboxBench): a line for the record.
        output.WriteLine($"durable append: {sequential.TotalMicroseconds / Sequential:F0} us/report with 1 writer, {concurrent.TotalMicroseconds / (Writers * PerWriter):F0} us/report with {Writers} writers");

        var reopened = Open();
        Assert.Equal(1 + Sequential + (Writers * PerWriter), reopened.Depth);
        var sender = new RecordingSender();
        await DrainAsync(reopened, sender);
        Assert.Equal(1 + Sequential + (Writers * PerWriter), sender.Keys.Distinct().Count());
    }

    [Fact]
    public async Task Append_BeyondTheLimit_ThrowsFull_StoresNothing_AndAcceptsAgainOnceDelivered()
    {
        var outbox = Open(maxBytes: 4096);
        var accepted = 0;
        var full = await Assert.ThrowsAsync<UsageOutboxFullException>(async () =>
        {
            while (true)
            {
                await outbox.AppendUsageAsync([Usage(accepted)], CancellationToken.None);
                accepted++;
            }
        });

        Assert.True(accepted > 0);
        Assert.Equal(accepted, outbox.Depth);
        Assert.True(outbox.SizeBytes <= outbox.CapacityBytes);
        Assert.Equal(4096, full.CapacityBytes);
        var reopened = Open(maxBytes: 4096);
        Assert.Equal(accepted, reopened.Depth); // the refused report was not stored

        await DrainAsync(outbox, new RecordingSender());
        await outbox.AppendUsageAsync([Usage(9999)], CancellationToken.None);
        Assert.Equal(1, outbox.Depth);
    }

    [Fact]
    public async Task Delivery_PermanentRejection_SetsTheReportAside_LogsOnce_AndDeliversTheOthersInOrder()
    {
        var outbox = Open();
        var entries = await outbox.AppendUsageAsync([Usage(1), Usage(2), Usage(3) with { FeatureId = "feature-rejected" }, Usage(4), Usage(5)], CancellationToken.None);
        var sender = new RecordingSender { Reject = u => u.FeatureId == "feature-rejected" };

        await DrainAsync(outbox, sender);

        var rejectedKey = entries[2].IdempotencyKey;
        Assert.Equal(entries.Where(e => e.IdempotencyKey != rejectedKey).Select(e => e.IdempotencyKey), sender.Keys.Distinct());
        Assert.Equal(1, outbox.RejectedCount);
        Assert.Equal(4, outbox.DeliveredCount);
        Assert.Equal(0, outbox.Depth);
        Assert.Single(_logger.Entries, e => e.EventId.Id == 1207);
        var deadLetter = await File.ReadAllTextAsync(Path.Combine(_dir.Path, "dead-letter.jsonl"));
        Assert.Contains(rejectedKey, deadLetter, StringComparison.Ordinal);
        Assert.Contains("feature-rejected", deadLetter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delivery_TransientFailure_KeepsEverything_ThenDeliversInOrder()
    {
        var outbox = Open();
        var entries = await outbox.AppendUsageAsync([Usage(1), Usage(2)], CancellationToken.None);
        var sender = new RecordingSender { Unavailable = true };

        var failed = await outbox.DeliverOnceAsync(sender, null, CancellationToken.None);

        Assert.IsType<UpstreamException>(failed.TransientFailure);
        Assert.Equal(2, outbox.Depth);
        sender.Unavailable = false;
        await DrainAsync(outbox, sender);
        Assert.Equal(entries.Select(e => e.IdempotencyKey), sender.Keys);
    }

    [Fact]
    public async Task Delivery_HandsStiggsResultsToTheCallback()
    {
        var outbox = Open();
        await outbox.AppendUsageAsync([Usage(1), Usage(2)], CancellationToken.None);
        var handed = new List<UsageReportResult>();

        await outbox.DeliverOnceAsync(new RecordingSender(), (results, _) =>
        {
            handed.AddRange(results);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);

        Assert.Equal(2, handed.Count);
        Assert.All(handed, r => Assert.Equal(42, r.CurrentUsage));
    }

    [Fact]
    public async Task Open_DamagedEntryOnDisk_DoesNotCrash_SetsItAsideWithALogLine_AndDeliversTheRest()
    {
        var first = Open();
        var entries = await first.AppendUsageAsync([Usage(1)], CancellationToken.None);
        entries = [.. entries, .. await first.AppendUsageAsync([Usage(2)], CancellationToken.None)];
        entries = [.. entries, .. await first.AppendUsageAsync([Usage(3)], CancellationToken.None)];
        first.Dispose();
        _open.Remove(first);

        // A torn/corrupted write inside the second entry: flip bytes of its idempotency key in the segment file.
        var segment = Path.Combine(_dir.Path, "log", "outbox.0");
        var bytes = await File.ReadAllBytesAsync(segment);
        var at = IndexOf(bytes, Encoding.UTF8.GetBytes(entries[1].IdempotencyKey));
        Assert.True(at > 0);
        bytes[at] ^= 0xFF;
        bytes[at + 1] ^= 0xFF;
        await File.WriteAllBytesAsync(segment, bytes);

        var reopened = Open();
        var sender = new RecordingSender();
        await DrainAsync(reopened, sender);

        Assert.Equal([entries[0].IdempotencyKey, entries[2].IdempotencyKey], sender.Keys);
        Assert.Equal(1, reopened.QuarantinedCount);
        Assert.True(_logger.Has(1208));
        Assert.Contains("damaged", await File.ReadAllTextAsync(Path.Combine(_dir.Path, "dead-letter.jsonl")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delivery_DamagedEntryOnAPageReadFromDisk_IsSetAside_AndTheRestIsDelivered()
    {
        // More than one 256 KiB page, so the first page is read back from disk, where FASTER checks its checksums.
        var first = Open();
        var keys = new List<string>();
        for (var call = 0; call < 25; call++)
        {
            var batch = await first.AppendUsageAsync([.. Enumerable.Range(call * 100, 100).Select(Usage)], CancellationToken.None);
            keys.AddRange(batch.Select(e => e.IdempotencyKey));
        }

        first.Dispose();
        _open.Remove(first);
        var segment = Path.Combine(_dir.Path, "log", "outbox.0");
        var bytes = await File.ReadAllBytesAsync(segment);
        var at = IndexOf(bytes, Encoding.UTF8.GetBytes(keys[10]));
        Assert.InRange(at, 1, 200_000);
        bytes[at] ^= 0xFF;
        await File.WriteAllBytesAsync(segment, bytes);

        var reopened = Open();
        var sender = new RecordingSender();
        await DrainAsync(reopened, sender);

        Assert.DoesNotContain(keys[10], sender.Keys);
        Assert.Equal(keys.Where(k => k != keys[10]), sender.Keys.Where(k => k != keys[10]).Distinct());
        Assert.True(reopened.QuarantinedCount >= 1);
        Assert.Equal(0, reopened.Depth);
    }

    [Fact]
    public async Task Delivery_DamagedLengthHeader_SetsTheRestOfItsPageAside_AndDeliversTheFollowingPages()
    {
        var first = Open();
        var keys = new List<string>();
        for (var call = 0; call < 25; call++)
        {
            var batch = await first.AppendUsageAsync([.. Enumerable.Range(call * 100, 100).Select(Usage)], CancellationToken.None);
            keys.AddRange(batch.Select(e => e.IdempotencyKey));
        }

        first.Dispose();
        _open.Remove(first);
        var segment = Path.Combine(_dir.Path, "log", "outbox.0");
        var bytes = await File.ReadAllBytesAsync(segment);

        // Entry 10's payload starts 10 bytes before its customer id (length-prefixed); FASTER's 4-byte length is before it.
        var customer = Encoding.UTF8.GetBytes("customer-10");
        var at = IndexOf(bytes, [(byte)customer.Length, 0, 0, 0, .. customer]);
        Assert.InRange(at, 14, 200_000);
        BitConverter.TryWriteBytes(bytes.AsSpan(at - 14, 4), int.MaxValue);
        await File.WriteAllBytesAsync(segment, bytes);

        var reopened = Open();
        var sender = new RecordingSender();
        await DrainAsync(reopened, sender);

        Assert.Equal(keys.Take(10), sender.Keys.Take(10));
        Assert.Equal(keys.TakeLast(500), sender.Keys.TakeLast(500)); // later pages are intact
        Assert.Equal(1, reopened.QuarantinedCount);
        Assert.True(_logger.Has(1214));
        Assert.Equal(0, reopened.Depth);
    }

    [Fact]
    public async Task Open_GarbageCommitsAndATruncatedSegment_StartsWithoutThrowing()
    {
        var first = Open();
        await first.AppendUsageAsync([Usage(1), Usage(2)], CancellationToken.None);
        first.Dispose();
        _open.Remove(first);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_dir.Path, "commits"), "*", SearchOption.AllDirectories))
        {
            await File.WriteAllBytesAsync(file, Enumerable.Range(0, 64).Select(i => (byte)(i * 37)).ToArray());
        }

        var segment = Path.Combine(_dir.Path, "log", "outbox.0");
        await using (var stream = new FileStream(segment, FileMode.Open))
        {
            stream.SetLength(70);
        }

        var reopened = Open();
        await DrainAsync(reopened, new RecordingSender());
        await reopened.AppendUsageAsync([Usage(3)], CancellationToken.None);

        Assert.Equal(1, reopened.Depth);
    }

    [Fact]
    public async Task InMemory_SameOrderLimitAndDelivery_NotDurable()
    {
        var outbox = UsageOutbox.CreateInMemory(new UsageOutboxOptions { MaxBytes = 4096 }, _logger);
        _open.Add(outbox);
        Assert.False(outbox.IsDurable);

        var entries = await outbox.AppendUsageAsync([Usage(1), Usage(2) with { FeatureId = "feature-rejected" }], CancellationToken.None);
        entries = [.. entries, .. await outbox.AppendEventsAsync([Event(3)], CancellationToken.None)];
        await Assert.ThrowsAsync<UsageOutboxFullException>(async () =>
        {
            for (var i = 0; ; i++)
            {
                await outbox.AppendUsageAsync([Usage(100 + i)], CancellationToken.None);
            }
        });

        var sender = new RecordingSender { Reject = u => u.FeatureId == "feature-rejected" };
        await DrainAsync(outbox, sender);

        Assert.Equal(entries[0].IdempotencyKey, sender.Keys[0]);
        Assert.Equal(entries[2].IdempotencyKey, sender.Keys[1]);
        Assert.Equal(1, outbox.RejectedCount);
        Assert.Equal(0, outbox.Depth);
    }

    [Fact]
    public async Task RunDelivery_BacksOffOnFailure_AndDeliversWhenStiggIsBack()
    {
        var time = Clocks.AtSampleNow();
        var outbox = UsageOutbox.Open(new UsageOutboxOptions { Directory = _dir.Path, RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromSeconds(4) }, _logger, time);
        _open.Add(outbox);
        await outbox.AppendUsageAsync([Usage(1)], CancellationToken.None);
        var sender = new RecordingSender { Unavailable = true };
        using var stop = new CancellationTokenSource();

        var loop = outbox.RunDeliveryAsync(sender, null, stop.Token);
        await Eventually.TrueAsync(() => sender.Attempts >= 1);
        sender.Unavailable = false;
        Assert.Equal(1, outbox.Depth); // waiting out the back-off on the fake clock

        // Advance while polling: the loop may not have started its delay when the first advance happens.
        await Eventually.TrueAsync(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(500));
            return outbox.Depth == 0;
        });
        Assert.True(_logger.Has(1204));
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private UsageOutbox Open(long maxBytes = UsageOutboxOptions.DefaultMaxBytes)
    {
        var outbox = UsageOutbox.Open(new UsageOutboxOptions { Directory = _dir.Path, MaxBytes = maxBytes, MaxBatchSize = 4 }, _logger);
        _open.Add(outbox);
        return outbox;
    }

    private static async Task DrainAsync(UsageOutbox outbox, IOutboxSender sender)
    {
        for (var guard = 0; guard < 10_000; guard++)
        {
            var result = await outbox.DeliverOnceAsync(sender, null, CancellationToken.None);
            Assert.Null(result.TransientFailure);
            if (result.Idle)
            {
                return;
            }
        }

        Assert.Fail("the outbox did not drain");
    }

    private static UsageReport Usage(int i) => new()
    {
        CustomerId = "customer-" + i,
        ResourceId = i % 2 == 0 ? null : "workspace-" + i,
        FeatureId = "feature-api-calls",
        Value = i + 0.5,
        UpdateBehavior = i % 4 == 0 ? UsageUpdateBehavior.Set : UsageUpdateBehavior.Delta,
        CreatedAt = i % 2 == 0 ? 1_767_225_600_000 + i : null,
        Dimensions = new Dictionary<string, object?> { ["region"] = "eu", ["weight"] = 1.5, ["beta"] = true, ["count"] = 3L, ["none"] = null },
    };

    private static RawEvent Event(int i) => new()
    {
        EventName = "api-call",
        CustomerId = "customer-" + i,
        IdempotencyKey = "event-" + i,
        Timestamp = 1_767_225_600_000 + i,
        Dimensions = new Dictionary<string, object?> { ["endpoint"] = "/v1/x" },
    };

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i <= haystack.Length - needle.Length; i++)
        {
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Records what would reach Stigg; rejects or fails as the test says.</summary>
    private sealed class RecordingSender : IOutboxSender
    {
        private readonly Lock _gate = new();

        public Func<UsageReport, bool> Reject { get; init; } = static _ => false;

        public volatile bool Unavailable;

        public int Attempts;

        public List<string> Keys { get; } = [];

        public List<UsageReport> Usage { get; } = [];

        public Task<IReadOnlyList<UsageReportResult>> SendUsageAsync(IReadOnlyList<UsageReport> reports, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Attempts);
            if (Unavailable)
            {
                throw new UpstreamException(UpstreamFailure.Unavailable, "Stigg is down (test)");
            }

            if (reports.Any(Reject))
            {
                throw new UpstreamException(UpstreamFailure.InvalidResponse, "ReportUsage failed: feature not found (test)");
            }

            lock (_gate)
            {
                Keys.AddRange(reports.Select(r => r.IdempotencyKey!));
                Usage.AddRange(reports);
            }

            IReadOnlyList<UsageReportResult> results = reports.Select(r => new UsageReportResult
            {
                MeasurementId = "m-" + r.IdempotencyKey,
                CustomerId = r.CustomerId,
                ResourceId = r.ResourceId,
                FeatureId = r.FeatureId,
                CurrentUsage = 42,
                Timestamp = 1,
            }).ToArray();
            return Task.FromResult(results);
        }

        public Task SendEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Attempts);
            if (Unavailable)
            {
                throw new UpstreamException(UpstreamFailure.Unavailable, "Stigg is down (test)");
            }

            lock (_gate)
            {
                Keys.AddRange(events.Select(e => e.IdempotencyKey));
            }

            return Task.CompletedTask;
        }
    }
}
