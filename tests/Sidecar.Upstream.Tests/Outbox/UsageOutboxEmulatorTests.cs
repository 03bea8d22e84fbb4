using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Cache;
using Sidecar.Cache.Hot;
using Sidecar.Core.Model;
using Sidecar.Emulator;
using Sidecar.Testing;
using Sidecar.Upstream.Outbox;

namespace Sidecar.Upstream.Tests.Outbox;

/// <summary>The outbox and the Stigg source against the emulator: exact counts, outages, acknowledgement.</summary>
public sealed class UsageOutboxEmulatorTests : IAsyncLifetime
{
    private const string Feature = "feature-api-calls";
    private static readonly CustomerKey Acme = new("acme", null);

    private readonly TempDirectory _dir = new("outbox-emulator-");
    private readonly CapturingLogger _logger = new();
    private EmulatorServer _emulator = null!;
    private StiggApiClient _client = null!;
    private UsageOutbox _outbox = null!;

    public async Task InitializeAsync()
    {
        _emulator = await TestSupport.StartEmulatorAsync();
        // A short break: the circuit opens during the outages below and must let a probe through soon after.
        _client = new StiggApiClient(TestSupport.OptionsFor(_emulator) with { CircuitBreakerBreakDuration = TimeSpan.FromMilliseconds(600) }, _logger);
        _outbox = UsageOutbox.Open(
            new UsageOutboxOptions { Directory = _dir.Path, MaxBatchSize = 10, RetryBaseDelay = TimeSpan.FromMilliseconds(20), RetryMaxDelay = TimeSpan.FromMilliseconds(200) },
            _logger);
    }

    public async Task DisposeAsync()
    {
        _outbox.Dispose();
        _client.Dispose();
        await _emulator.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Delivery_ThroughAnOutage_CountsExactlyN()
    {
        const int N = 25;
        var before = EmulatorUsage();
        for (var i = 0; i < N; i++)
        {
            await _outbox.AppendUsageAsync([new UsageReport { CustomerId = "acme", FeatureId = Feature, Value = 1 }], CancellationToken.None);
        }

        _emulator.SetFaults(new EmulatorFaults { GraphQlStatus = 503, FailCount = 6 }); // more than the client's own retries: the circuit opens too
        using var stop = new CancellationTokenSource();
        var loop = _outbox.RunDeliveryAsync(_client, null, stop.Token);

        await Eventually.TrueAsync(() => _outbox.Depth == 0, TestSupport.Patience);
        await stop.CancelAsync();
        await loop.Within();

        Assert.Equal(before + N, EmulatorUsage());
        Assert.Equal(N, _outbox.DeliveredCount);
        Assert.True(_emulator.Counters.GraphQlRequestsFor("ReportUsageBulk") >= 3); // batches of 10, 10, 5
    }

    [Fact]
    public async Task Delivery_UnknownFeature_IsSetAside_AndTheOthersAreCounted()
    {
        var before = EmulatorUsage();
        await _outbox.AppendUsageAsync(
            [
                new UsageReport { CustomerId = "acme", FeatureId = Feature, Value = 2 },
                new UsageReport { CustomerId = "acme", FeatureId = "feature-that-does-not-exist", Value = 1 },
                new UsageReport { CustomerId = "acme", FeatureId = Feature, Value = 3 },
            ],
            CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var loop = _outbox.RunDeliveryAsync(_client, null, stop.Token);

        await Eventually.TrueAsync(() => _outbox.Depth == 0, TestSupport.Patience);
        await stop.CancelAsync();
        await loop.Within();

        Assert.Equal(before + 5, EmulatorUsage());
        Assert.Equal(1, _outbox.RejectedCount);
        Assert.Single(_logger.Entries, e => e.EventId.Id == 1207);
    }

    [Fact]
    public async Task StiggSource_WhileStiggRefusesConnections_AcknowledgesFromTheOutbox_ChecksSeeIt_AndStiggCountsItOnceBack()
    {
        await using var cache = NewCache(new StiggSource(_client, _outbox, _logger));
        var held = await cache.GetAsync(Acme, CancellationToken.None);
        Assert.True(held!.TryGetFeature(Feature, out var feature));
        var before = EmulatorUsage();
        Assert.Equal(before, feature.CurrentUsage);

        _emulator.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.Refuse }); // Stigg unreachable
        var first = Assert.Single(await cache.ReportUsageAsync([new UsageReport { CustomerId = "acme", FeatureId = Feature, Value = 5 }], CancellationToken.None));
        var second = Assert.Single(await cache.ReportUsageAsync([new UsageReport { CustomerId = "acme", FeatureId = Feature, Value = 2, IdempotencyKey = "client-key" }], CancellationToken.None));
        await cache.ReportEventsAsync([new RawEvent { EventName = "api-call", CustomerId = "acme", IdempotencyKey = "event-1" }], CancellationToken.None);

        Assert.Equal(21, first.MeasurementId.Length);
        Assert.Equal("client-key", second.MeasurementId);
        Assert.Equal(before + 5, first.CurrentUsage);
        Assert.Equal(before + 7, second.CurrentUsage);
        Assert.Equal(3, _outbox.Depth);
        Assert.True(cache.TryGetServable(Acme, cache.NowMs, out var during));
        Assert.True(during.TryGetFeature(Feature, out var estimated));
        Assert.Equal(before + 7, estimated.CurrentUsage); // checks see the usage at once
        Assert.Equal(before, EmulatorUsage());

        _emulator.ClearFaults();
        using var stop = new CancellationTokenSource();
        var loop = _outbox.RunDeliveryAsync(_client, (results, _) => cache.ApplyUsageResultsAsync(results), stop.Token);
        await Eventually.TrueAsync(() => _outbox.Depth == 0, TestSupport.Patience);
        await stop.CancelAsync();
        await loop.Within();

        Assert.Equal(before + 7, EmulatorUsage());
        Assert.Contains(_emulator.Events, e => e.IdempotencyKey == "event-1");
        Assert.True(cache.TryGetServable(Acme, cache.NowMs, out var after));
        Assert.True(after.TryGetFeature(Feature, out var server));
        Assert.Equal(before + 7, server.CurrentUsage);
        Assert.True(server.UsageUpdatedAt >= estimated.UsageUpdatedAt); // the server's value replaced the estimate

        // Stigg is back and the outbox is empty: reports go directly again, with the server's answer.
        var direct = Assert.Single(await cache.ReportUsageAsync([new UsageReport { CustomerId = "acme", FeatureId = Feature, Value = 1 }], CancellationToken.None));
        Assert.Equal(before + 8, direct.CurrentUsage);
        Assert.Equal(0, _outbox.Depth);
    }

    [Fact]
    public async Task StiggSource_AppliedButTheAnswerLost_ThenDeliveredFromTheOutbox_IsCountedOnce()
    {
        await using var cache = NewCache(new StiggSource(_client, _outbox, _logger));
        var before = EmulatorUsage();
        _emulator.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.DropAfterApply });

        // Stigg applies the report, the connection drops before the answer, every retry too: the sidecar cannot know.
        var ack = Assert.Single(await cache.ReportUsageAsync([new UsageReport { CustomerId = "acme", FeatureId = Feature, Value = 3 }], CancellationToken.None));
        Assert.Equal(1, _outbox.Depth);
        Assert.Equal(before + 3, EmulatorUsage());

        _emulator.ClearFaults();
        using var stop = new CancellationTokenSource();
        var loop = _outbox.RunDeliveryAsync(_client, (results, _) => cache.ApplyUsageResultsAsync(results), stop.Token);
        await Eventually.TrueAsync(() => _outbox.Depth == 0, TestSupport.Patience);
        await stop.CancelAsync();
        await loop.Within();

        // The same key on every attempt and on the delivery: applied once.
        Assert.Equal(before + 3, EmulatorUsage());
        Assert.Equal(1, _emulator.Counters.UsageAppliedByIdempotencyKey[ack.MeasurementId]);
        Assert.Equal(1, _outbox.DeliveredCount);
    }

    [Fact]
    public async Task StiggSource_RejectedReport_IsNotStored_TheCallerSeesTheError()
    {
        await using var cache = NewCache(new StiggSource(_client, _outbox, _logger));

        await Assert.ThrowsAsync<SourceUnavailableException>(() => cache.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-that-does-not-exist", Value = 1 }], CancellationToken.None));

        Assert.Equal(0, _outbox.Depth);
    }

    private double EmulatorUsage() =>
        _emulator.GetCustomer("acme")!.EntitlementsV2.Single(e => e.Feature?.RefId == Feature).CurrentUsage ?? 0;

    private static TieredEntitlementCache NewCache(IEntitlementsSource source) => new(
        new TieredCacheOptions { FreshnessWindow = TimeSpan.FromMinutes(5) },
        new HotTier(long.MaxValue),
        [],
        source,
        IFetchCoordinator.None,
        NullLogger.Instance,
        TimeProvider.System);
}
