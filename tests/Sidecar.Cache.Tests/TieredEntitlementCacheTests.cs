using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Cache.Hot;
using Sidecar.Core.Model;
using Sidecar.Testing;

namespace Sidecar.Cache.Tests;

/// <summary>The read-through flow: hot tier, persistent tiers in order, the source once per key, write-back after the answer.</summary>
public sealed class TieredEntitlementCacheTests
{
    private const long Now = 1_700_000_000_000;
    private static readonly CustomerKey Acme = new("acme", null);

    [Fact]
    public async Task LoadAsync_ConcurrentMisses_OneSourceFetch_AnswerBeforeWriteBack()
    {
        var source = new ScriptedSource();
        var release = source.Hold(Acme);
        var tier = new RecordingTier("faster") { HoldWrites = true };
        await using var cache = NewCache(source, [tier]);

        var callers = Enumerable.Range(0, 20).Select(_ => cache.LoadAsync(Acme, CancellationToken.None)).ToArray();
        release.SetResult(Snapshots.Small("acme", Now));
        var answers = await Task.WhenAll(callers);

        // Every caller has its answer while the tier's write is still held open: the write-back comes after.
        Assert.All(answers, a => Assert.Equal(Now, a!.EntitlementsTimestamp));
        Assert.Equal(1, source.Fetches(Acme));
        Assert.True(cache.TryGetServable(Acme, Now, out _));
        var written = await tier.NextWriteAsync();
        Assert.Equal(Acme, written.Key);
    }

    [Fact]
    public async Task LoadAsync_LowerTierHit_PromotedToHotAndUpperTiers_SourceNotAsked()
    {
        var source = new ScriptedSource();
        var upper = new RecordingTier("faster");
        var lower = new RecordingTier("redis");
        lower.Put(Snapshots.Small("acme", Now, usage: 7));
        await using var cache = NewCache(source, [upper, lower]);

        var answer = await cache.LoadAsync(Acme, CancellationToken.None);

        Assert.Equal(7, Assert.Single(answer!.Features, f => f.FeatureId == "feature-api-calls").CurrentUsage);
        Assert.Equal(0, source.Fetches(Acme));
        Assert.Equal(Acme, (await upper.NextWriteAsync()).Key);
        Assert.Empty(lower.Writes);
    }

    [Fact]
    public async Task LoadAsync_Coordinated_SharedTierNotWrittenTwice()
    {
        var source = new ScriptedSource();
        source.Answer(Acme, Snapshots.Small("acme", Now));
        var faster = new RecordingTier("faster");
        var shared = new RecordingTier("redis");
        var coordinator = new StoringCoordinator(shared);
        await using var cache = NewCache(source, [faster, shared], coordinator);

        await cache.LoadAsync(Acme, CancellationToken.None);

        Assert.Equal(Acme, (await faster.NextWriteAsync()).Key);
        Assert.Equal(1, coordinator.Calls);
        Assert.Single(shared.Writes); // the coordinator's own write, before it would tell other sidecars
    }

    [Fact]
    public async Task LoadAsync_SourceFails_ExpiredTierCopyServed_NothingHeld_Null()
    {
        var source = new ScriptedSource();
        source.Fail(Acme);
        source.Fail(new CustomerKey("nobody", null));
        var tier = new RecordingTier("faster");
        var held = Snapshots.Small("acme", Now);
        var expired = new CustomerSnapshot(held.Key, null, [.. held.Features.Select(f => f with { ValidUntil = Now })], held.Credits, Now, Now);
        tier.Put(expired); // valid until long before the clock's now
        await using var cache = NewCache(source, [tier]);

        var stale = await cache.LoadAsync(Acme, CancellationToken.None);
        var none = await cache.LoadAsync(new CustomerKey("nobody", null), CancellationToken.None);

        Assert.Same(expired, stale);
        Assert.Null(none);
        Assert.Equal(1, source.Fetches(Acme));
    }

    [Fact]
    public async Task LoadAsync_SourceWithoutData_NullAndNothingHeld()
    {
        var source = new ScriptedSource();
        await using var cache = NewCache(source, []);

        Assert.Null(await cache.LoadAsync(Acme, CancellationToken.None));
        Assert.False(cache.TryGetServable(Acme, Now, out _));
    }

    [Fact]
    public async Task ReportUsageAsync_AbsoluteResult_HeldAtOnce()
    {
        var source = new ScriptedSource();
        await using var cache = NewCache(source, []);
        await cache.ApplySnapshotAsync(Snapshots.Small("acme", Now, usage: 1, usageAt: Now));
        source.UsageResult = new UsageReportResult { MeasurementId = "m-1", CustomerId = "acme", FeatureId = "feature-api-calls", CurrentUsage = 42, Timestamp = Now + 1 };

        await cache.ReportUsageAsync([new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 41 }], CancellationToken.None);

        Assert.True(cache.TryGetServable(Acme, Now, out var held));
        Assert.Equal(42, Assert.Single(held.Features, f => f.FeatureId == "feature-api-calls").CurrentUsage);
    }

    [Fact]
    public async Task RemoveAsync_ForgetsEveryTier()
    {
        var tier = new RecordingTier("faster");
        await using var cache = NewCache(new ScriptedSource(), [tier]);
        await cache.ApplySnapshotAsync(Snapshots.Small("acme", Now));

        await cache.RemoveAsync(Acme);

        Assert.False(cache.TryGetServable(Acme, Now, out _));
        Assert.Null(await tier.ReadAsync(Acme, CancellationToken.None));
    }

    private static TieredEntitlementCache NewCache(ScriptedSource source, IReadOnlyList<ISnapshotTier> tiers, IFetchCoordinator? coordinator = null) =>
        new(
            new TieredCacheOptions { FreshnessWindow = TimeSpan.FromSeconds(30) },
            new HotTier(long.MaxValue),
            tiers,
            source,
            coordinator ?? IFetchCoordinator.None,
            NullLogger.Instance,
            TimeProvider.System);

    /// <summary>A source whose answers the test decides, counting fetches per key.</summary>
    private sealed class ScriptedSource : IEntitlementsSource
    {
        private readonly ConcurrentDictionary<CustomerKey, TaskCompletionSource<CustomerSnapshot?>> _answers = new();
        private readonly ConcurrentDictionary<CustomerKey, int> _fetches = new();

        public string Mode => "test";

        public bool PushesAllChanges => true;

        public bool EntityExistsWithoutData => false;

        public UsageReportResult? UsageResult { get; set; }

        public TaskCompletionSource<CustomerSnapshot?> Hold(CustomerKey key) =>
            _answers.GetOrAdd(key, _ => new TaskCompletionSource<CustomerSnapshot?>(TaskCreationOptions.RunContinuationsAsynchronously));

        public void Answer(CustomerKey key, CustomerSnapshot snapshot) => Hold(key).SetResult(snapshot);

        public void Fail(CustomerKey key) => Hold(key).SetException(new SourceUnavailableException("down"));

        public int Fetches(CustomerKey key) => _fetches.GetValueOrDefault(key);

        public Task<CustomerSnapshot?> FetchAsync(CustomerKey key, bool fresh, CancellationToken cancellationToken)
        {
            _fetches.AddOrUpdate(key, 1, (_, n) => n + 1);
            return _answers.TryGetValue(key, out var answer) ? answer.Task : Task.FromResult<CustomerSnapshot?>(null);
        }

        public Task<IReadOnlyList<UsageReportResult>> ReportUsageAsync(IReadOnlyList<UsageReport> reports, TieredEntitlementCache cache, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<UsageReportResult>>([UsageResult!]);

        public Task ReportEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>An in-memory persistent tier that records writes; with <see cref="HoldWrites"/> a write waits to be observed.</summary>
    private sealed class RecordingTier(string name) : ISnapshotTier
    {
        private readonly ConcurrentDictionary<CustomerKey, CustomerSnapshot> _held = new();
        private readonly System.Threading.Channels.Channel<CustomerSnapshot> _writes = System.Threading.Channels.Channel.CreateUnbounded<CustomerSnapshot>();
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => name;

        public bool HoldWrites { get; init; }

        public ConcurrentQueue<CustomerSnapshot> Writes { get; } = new();

        public void Put(CustomerSnapshot snapshot) => _held[snapshot.Key] = snapshot;

        /// <summary>The next write, releasing held writes.</summary>
        public async Task<CustomerSnapshot> NextWriteAsync()
        {
            _released.TrySetResult();
            return await _writes.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        public ValueTask<CustomerSnapshot?> ReadAsync(CustomerKey key, CancellationToken cancellationToken) =>
            ValueTask.FromResult(_held.GetValueOrDefault(key));

        public async ValueTask WriteAsync(CustomerSnapshot snapshot, CancellationToken cancellationToken)
        {
            if (HoldWrites)
            {
                await _released.Task;
            }

            _held[snapshot.Key] = snapshot;
            Writes.Enqueue(snapshot);
            _writes.Writer.TryWrite(snapshot);
        }

        public ValueTask WriteUsageAsync(CustomerKey key, UsageUpdate update, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask RemoveAsync(CustomerKey key, CancellationToken cancellationToken)
        {
            _held.TryRemove(key, out _);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Like the Redis coordinator: fetches, then stores in its shared tier before it would notify others.</summary>
    private sealed class StoringCoordinator(ISnapshotTier shared) : IFetchCoordinator
    {
        public int Calls;

        public ISnapshotTier? SharedTier => shared;

        public async Task<CustomerSnapshot> FetchOnceAsync(CustomerKey key, Func<CancellationToken, Task<CustomerSnapshot>> fetch, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            var snapshot = await fetch(cancellationToken);
            await shared.WriteAsync(snapshot, cancellationToken);
            return snapshot;
        }
    }
}
