using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Core.Model;
using Sidecar.Emulator;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

/// <summary>
/// The Polly pipelines against the emulator: per-attempt timeouts, refused connections, Retry-After, the shared
/// circuit breaker (open, fail fast, half-open probe, close) on a fake clock, and idempotent usage retries.
/// </summary>
public sealed class ResilienceTests : IAsyncLifetime
{
    private static readonly CustomerKey Acme = new("acme", null);

    private readonly CapturingLogger _logger = new();
    private readonly FakeTimeProvider _time = Clocks.AtSampleNow();
    private EmulatorServer _emulator = null!;

    public async Task InitializeAsync() => _emulator = await TestSupport.StartEmulatorAsync();

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    [Fact]
    public async Task Fetch_BlackHoledAttempt_TimesOutAsAFailureAndIsRetried()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.BlackHole, FailCount = 1 });
        using var client = FakeClockClient(o => o with { MaxRetries = 1 });

        var fetch = client.FetchEntitlementsAsync(Acme, skipEdge: false, CancellationToken.None);
        await _emulator.WaitForCountersAsync(c => c.EdgeRequests == 1).Within();
        Assert.False(fetch.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));

        var snapshot = await fetch.Within();

        Assert.NotEmpty(snapshot.Features);
        Assert.Equal(2, _emulator.Counters.EdgeRequests);
        Assert.True(_logger.Contains("attempt 2"), "the retry after the timed-out attempt is logged");
    }

    [Fact]
    public async Task Fetch_BlackHoledUntilTheBudgetEnds_IsUnavailableNamingTheTimeout()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.BlackHole });
        using var client = FakeClockClient(o => o with { MaxRetries = 0 });

        var fetch = client.FetchEntitlementsAsync(Acme, skipEdge: false, CancellationToken.None);
        await _emulator.WaitForCountersAsync(c => c.EdgeRequests == 1).Within();
        _time.Advance(TimeSpan.FromSeconds(1));

        var ex = await Assert.ThrowsAsync<UpstreamException>(() => fetch.Within());
        Assert.Equal(UpstreamFailure.Unavailable, ex.Failure);
        Assert.Contains("no answer within", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, ex.Attempts);
    }

    [Fact]
    public async Task Fetch_RefusedConnections_FailAsUnavailableAfterTheRetries()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.Refuse });
        using var client = new StiggApiClient(TestSupport.OptionsFor(_emulator) with { MaxRetries = 2 }, _logger);

        var ex = await Assert.ThrowsAsync<UpstreamException>(() => client.FetchEntitlementsAsync(Acme, skipEdge: false, CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unavailable, ex.Failure);
        Assert.False(ex.IsCircuitOpen);
        Assert.Equal(3, ex.Attempts);
        Assert.True(_emulator.Counters.EdgeRequests >= 3);
    }

    [Fact]
    public async Task Fetch_503WithRetryAfter_WaitsTheServersDelayOnTheClock()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeStatus = 503, RetryAfterSeconds = 3, FailCount = 1 });

        // Budgets far beyond the clock steps below, so only the retry delay is waiting on them.
        using var client = FakeClockClient(o => o with
        {
            MaxRetries = 1,
            EntitlementsTimeout = TimeSpan.FromHours(1),
            EntitlementsAttemptTimeout = TimeSpan.FromHours(1),
        });

        var fetch = client.FetchEntitlementsAsync(Acme, skipEdge: false, CancellationToken.None);

        // The computed back-off is zero here: a 3000 ms wait can only be the Retry-After.
        await _logger.WaitForAsync(e => e.Message.Contains("in 3000 ms", StringComparison.Ordinal), TestSupport.Patience);
        Assert.Equal(1, _emulator.Counters.EdgeRequests);
        await Eventually.TrueAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            return fetch.IsCompleted;
        });

        Assert.NotEmpty((await fetch).Features);
        Assert.Equal(2, _emulator.Counters.EdgeRequests);
    }

    [Fact]
    public async Task Breaker_Outage_OpensFailsFastProbesAndClosesOnRecovery()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.Refuse });
        using var client = FakeClockClient(o => o with { MaxRetries = 0 });
        var changes = new List<(StiggCircuitState From, StiggCircuitState To)>();
        client.CircuitStateChanged += (_, e) =>
        {
            lock (changes)
            {
                changes.Add((e.PreviousState, e.State));
            }
        };

        // Two refused attempts in the window: ratio 1 ≥ 0.5 with the minimum throughput of 2.
        for (var i = 0; i < 2; i++)
        {
            var failure = await Assert.ThrowsAsync<UpstreamException>(() => client.FetchEntitlementsAsync(Acme, false, CancellationToken.None));
            Assert.False(failure.IsCircuitOpen);
        }

        Assert.Equal(StiggCircuitState.Open, client.CircuitState);

        // Open: calls fail at once, nothing reaches Stigg, even when Stigg is back.
        _emulator.ClearFaults();
        var fast = await Assert.ThrowsAsync<UpstreamException>(() => client.FetchEntitlementsAsync(Acme, false, CancellationToken.None));
        Assert.Equal(UpstreamFailure.Unavailable, fast.Failure);
        Assert.True(fast.IsCircuitOpen);
        Assert.Equal(0, fast.Attempts);
        Assert.StartsWith("Stigg is unavailable: circuit open", fast.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UpstreamException>(() => client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 }], CancellationToken.None));
        Assert.Equal(2, _emulator.Counters.EdgeRequests);
        Assert.Equal(0, _emulator.Counters.GraphQlRequests);

        // After the break one probe goes through; Stigg answers, the circuit closes.
        _time.Advance(TimeSpan.FromSeconds(5));
        var snapshot = await client.FetchEntitlementsAsync(Acme, false, CancellationToken.None);

        Assert.NotEmpty(snapshot.Features);
        Assert.Equal(StiggCircuitState.Closed, client.CircuitState);
        Assert.Equal(3, _emulator.Counters.EdgeRequests);
        lock (changes)
        {
            Assert.Equal(
                [(StiggCircuitState.Closed, StiggCircuitState.Open), (StiggCircuitState.Open, StiggCircuitState.HalfOpen), (StiggCircuitState.HalfOpen, StiggCircuitState.Closed)],
                changes);
        }

        Assert.Single(_logger.Entries, e => e.EventId.Id == 1002 && e.Level == LogLevel.Warning);
        Assert.Single(_logger.Entries, e => e.EventId.Id == 1005 && e.Level == LogLevel.Information);
    }

    [Fact]
    public async Task Breaker_ProbeFails_ReopensWithoutAnotherWarning()
    {
        _emulator.SetFaults(new EmulatorFaults { GraphQlStatus = 503 });
        using var client = FakeClockClient(o => o with { MaxRetries = 0, EdgeEnabled = false });
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<UpstreamException>(() => client.FetchEntitlementsAsync(Acme, false, CancellationToken.None));
        }

        _time.Advance(TimeSpan.FromSeconds(5));
        var probe = await Assert.ThrowsAsync<UpstreamException>(() => client.FetchEntitlementsAsync(Acme, false, CancellationToken.None));

        Assert.False(probe.IsCircuitOpen);
        Assert.Equal(503, probe.StatusCode);
        Assert.Equal(StiggCircuitState.Open, client.CircuitState);
        Assert.Equal(3, _emulator.Counters.GraphQlRequests);
        var fast = await Assert.ThrowsAsync<UpstreamException>(() => client.FetchEntitlementsAsync(Acme, false, CancellationToken.None));
        Assert.True(fast.IsCircuitOpen);
        Assert.Equal(3, _emulator.Counters.GraphQlRequests);
        Assert.Single(_logger.Entries, e => e.EventId.Id == 1002);
        Assert.True(_logger.Has(1003));
    }

    [Fact]
    public async Task Breaker_BudgetEndsMidAttempt_CountsAsAFailure()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.BlackHole });

        // The whole budget (1 s) runs out before the attempt's own timeout (5 s) would.
        using var client = FakeClockClient(o => o with
        {
            MaxRetries = 0,
            EntitlementsTimeout = TimeSpan.FromSeconds(1),
            EntitlementsAttemptTimeout = TimeSpan.FromSeconds(5),
        });

        for (var i = 1; i <= 2; i++)
        {
            var fetch = client.FetchEntitlementsAsync(Acme, false, CancellationToken.None);
            await _emulator.WaitForCountersAsync(c => c.EdgeRequests == i).Within();
            _time.Advance(TimeSpan.FromSeconds(1));
            var ex = await Assert.ThrowsAsync<UpstreamException>(() => fetch.Within());
            Assert.Contains("budget", ex.Message, StringComparison.Ordinal);
        }

        Assert.Equal(StiggCircuitState.Open, client.CircuitState);
    }

    [Fact]
    public async Task Breaker_ProbeAbandonedByItsCaller_ReopensRatherThanCloses()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.Refuse, FailCount = 2 });
        using var client = FakeClockClient(o => o with { MaxRetries = 0 });
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<UpstreamException>(() => client.FetchEntitlementsAsync(Acme, false, CancellationToken.None));
        }

        Assert.Equal(StiggCircuitState.Open, client.CircuitState);
        _emulator.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.BlackHole });
        _time.Advance(TimeSpan.FromSeconds(5));
        using var cts = new CancellationTokenSource();

        var probe = client.FetchEntitlementsAsync(Acme, false, cts.Token);
        await _emulator.WaitForCountersAsync(c => c.EdgeRequests == 3).Within();
        Assert.Equal(StiggCircuitState.HalfOpen, client.CircuitState);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => probe.Within());
        Assert.Equal(StiggCircuitState.Open, client.CircuitState);
    }

    [Fact]
    public async Task Breaker_RejectedApiKey_IsNotAnOutage()
    {
        using var client = new StiggApiClient(
            BreakerOptions(TestSupport.OptionsFor(_emulator, apiKey: "not-the-key")) with { MaxRetries = 0 }, _logger, _time);

        for (var i = 0; i < 5; i++)
        {
            var ex = await Assert.ThrowsAsync<UpstreamException>(() => client.FetchEntitlementsAsync(Acme, false, CancellationToken.None));
            Assert.Equal(UpstreamFailure.Unauthorized, ex.Failure);
        }

        Assert.Equal(StiggCircuitState.Closed, client.CircuitState);
        Assert.Equal(5, _emulator.Counters.AuthFailures);
    }

    [Fact]
    public async Task ReportUsage_ReplyDroppedAfterApply_IsRetriedWithTheSameKeyAndAppliedOnce()
    {
        var before = CurrentUsage();
        _emulator.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.DropAfterApply, FailCount = 1 });
        using var client = new StiggApiClient(TestSupport.OptionsFor(_emulator), _logger);

        var result = Assert.Single(await client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 4 }], CancellationToken.None));

        Assert.Equal(before + 4, result.CurrentUsage);
        Assert.Equal(before + 4, CurrentUsage());
        var counters = _emulator.Counters;
        Assert.Equal(1, counters.UsageMeasurementsApplied);
        Assert.True(counters.UsageMeasurementsReplayed >= 1);
        var key = Assert.Single(counters.UsageAppliedByIdempotencyKey);
        Assert.Equal(1, key.Value);
        Assert.Matches("^[A-Za-z0-9_-]{21}$", key.Key);
    }

    [Fact]
    public async Task ReportUsageBulk_ReplyDroppedAfterApply_EveryMeasurementAppliedExactlyOnce()
    {
        var before = CurrentUsage();
        _emulator.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.DropAfterApply, FailCount = 1 });
        using var client = new StiggApiClient(TestSupport.OptionsFor(_emulator), _logger);

        var results = await client.ReportUsageAsync(
            [
                new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1, IdempotencyKey = "given-key" },
                new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 2 },
                new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 3 },
            ],
            CancellationToken.None);

        Assert.Equal(3, results.Count);
        Assert.Equal(before + 6, CurrentUsage());
        var counters = _emulator.Counters;
        Assert.Equal(3, counters.UsageMeasurementsApplied);
        Assert.Equal(3, counters.UsageAppliedByIdempotencyKey.Count);
        Assert.All(counters.UsageAppliedByIdempotencyKey.Values, n => Assert.Equal(1, n));
        Assert.Contains("given-key", counters.UsageAppliedByIdempotencyKey.Keys);
    }

    /// <summary>A client on the fake clock: zero back-off, 1 s attempts in a 10 s budget, a breaker that opens on 2 failures.</summary>
    private StiggApiClient FakeClockClient(Func<UpstreamOptions, UpstreamOptions>? adjust = null)
    {
        var options = BreakerOptions(TestSupport.OptionsFor(_emulator)) with
        {
            EntitlementsTimeout = TimeSpan.FromSeconds(10),
            EntitlementsAttemptTimeout = TimeSpan.FromSeconds(1),
            RetryBaseDelay = TimeSpan.Zero,
            RetryMaxDelay = TimeSpan.Zero,
        };
        return new StiggApiClient(adjust is null ? options : adjust(options), _logger, _time);
    }

    private static UpstreamOptions BreakerOptions(UpstreamOptions options) => options with
    {
        CircuitBreakerMinimumThroughput = 2,
        CircuitBreakerFailureRatio = 0.5,
        CircuitBreakerSamplingDuration = TimeSpan.FromSeconds(10),
        CircuitBreakerBreakDuration = TimeSpan.FromSeconds(5),
    };

    private double CurrentUsage() =>
        _emulator.GetCustomer("acme")!.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-api-calls").CurrentUsage ?? 0;
}
