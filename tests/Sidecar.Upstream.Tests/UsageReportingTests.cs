using Sidecar.Core.Model;
using Sidecar.Emulator;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

/// <summary>ReportUsage / ReportUsageBulk / ReportEvent against the emulator's GraphQL API.</summary>
public sealed class UsageReportingTests : IAsyncLifetime
{
    private readonly CapturingLogger _logger = new();
    private EmulatorServer _emulator = null!;
    private StiggApiClient _client = null!;

    public async Task InitializeAsync()
    {
        _emulator = await TestSupport.StartEmulatorAsync();
        _client = new StiggApiClient(TestSupport.OptionsFor(_emulator), _logger);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _emulator.DisposeAsync();
    }

    [Fact]
    public async Task ReportUsage_Delta_ReturnsTheNewAbsoluteUsage()
    {
        var before = CurrentUsage("acme", "feature-api-calls");

        var result = Assert.Single(await _client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 5 }], CancellationToken.None));

        Assert.Equal(before + 5, result.CurrentUsage);
        Assert.Equal("acme", result.CustomerId);
        Assert.Equal("feature-api-calls", result.FeatureId);
        Assert.False(string.IsNullOrEmpty(result.MeasurementId));
        Assert.NotNull(result.Timestamp);
        Assert.NotNull(result.UsagePeriodEnd);
        Assert.Equal(1, _emulator.Counters.GraphQlRequestsFor("ReportUsage"));

        var update = result.ToFeatureUpdate(nowMs: 1);
        Assert.Equal(new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", before + 5, result.UsagePeriodStart, result.UsagePeriodEnd, result.Timestamp!.Value), update);
    }

    [Fact]
    public async Task ReportUsage_Set_ReplacesTheUsage()
    {
        var result = Assert.Single(await _client.ReportUsageAsync(
            [
                new UsageReport
                {
                    CustomerId = "acme",
                    FeatureId = "feature-api-calls",
                    Value = 42,
                    UpdateBehavior = UsageUpdateBehavior.Set,
                    CreatedAt = 1_767_225_600_000,
                    IdempotencyKey = "set-1",
                    Dimensions = new Dictionary<string, object?> { ["region"] = "eu", ["weight"] = 1.5, ["beta"] = true, ["count"] = 3, ["none"] = null },
                },
            ],
            CancellationToken.None));

        Assert.Equal(42, result.CurrentUsage);
        Assert.Equal(42, CurrentUsage("acme", "feature-api-calls"));
    }

    [Fact]
    public async Task ReportUsage_ResourceScoped_ReportsAgainstTheResource()
    {
        var before = CurrentUsage("acme", "feature-api-calls", "workspace-1");

        var result = Assert.Single(await _client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", ResourceId = "workspace-1", FeatureId = "feature-api-calls", Value = 2 }], CancellationToken.None));

        Assert.Equal("workspace-1", result.ResourceId);
        Assert.Equal(before + 2, result.CurrentUsage);
    }

    [Fact]
    public async Task ReportUsage_Several_SendsOneBulkAndKeepsTheOrder()
    {
        var acmeBefore = CurrentUsage("acme", "feature-api-calls");
        var globexBefore = CurrentUsage("globex", "feature-api-calls");

        var results = await _client.ReportUsageAsync(
            [
                new UsageReport { CustomerId = "globex", FeatureId = "feature-api-calls", Value = 7 },
                new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 3 },
            ],
            CancellationToken.None);

        Assert.Equal(2, results.Count);
        Assert.Equal(("globex", globexBefore + 7), (results[0].CustomerId, results[0].CurrentUsage));
        Assert.Equal(("acme", acmeBefore + 3), (results[1].CustomerId, results[1].CurrentUsage));
        Assert.Equal(1, _emulator.Counters.GraphQlRequestsFor("ReportUsageBulk"));
        Assert.Equal(0, _emulator.Counters.GraphQlRequestsFor("ReportUsage"));
    }

    [Fact]
    public async Task ReportUsage_CreditBackedFeature_ReturnsTheCreditBalance()
    {
        var result = Assert.Single(await _client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-ai-summaries", Value = 1 }], CancellationToken.None));

        var credit = Assert.IsType<CreditUsageResult>(result.Credit);
        Assert.Equal("ai-credits", credit.CurrencyId);
        Assert.Equal(CurrentCredit("acme", "ai-credits"), credit.CurrentUsage);
        Assert.Equal(EntitlementRefType.Credit, credit.ToUpdate(nowMs: 1).Type);
    }

    [Fact]
    public async Task ReportUsage_UnknownFeature_ThrowsTheGraphQlMessageWithoutRetrying()
    {
        var ex = await Assert.ThrowsAsync<UpstreamException>(() => _client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-that-does-not-exist", Value = 1 }], CancellationToken.None));

        Assert.Equal(UpstreamFailure.InvalidResponse, ex.Failure);
        Assert.Contains("feature-that-does-not-exist", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.ErrorCode);
        Assert.Equal(1, _emulator.Counters.GraphQlRequestsFor("ReportUsage"));
    }

    [Fact]
    public async Task ReportUsage_Forced500_IsRetriedWithTheSameKeyAndAppliedOnce()
    {
        var before = CurrentUsage("acme", "feature-api-calls");
        _emulator.SetFaults(new EmulatorFaults { GraphQlStatus = 500, FailCount = 1 });

        var result = Assert.Single(await _client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 }], CancellationToken.None));

        // Every report carries an idempotency key, so even a 500 (maybe applied) is safe to repeat.
        Assert.Equal(before + 1, result.CurrentUsage);
        var counters = _emulator.Counters;
        Assert.Equal(2, counters.GraphQlRequests);
        Assert.Equal(1, counters.UsageMeasurementsApplied);
        Assert.Equal(1, Assert.Single(counters.UsageAppliedByIdempotencyKey).Value);
    }

    [Fact]
    public async Task ReportUsage_Forced503_IsRetriedAndApplied()
    {
        var before = CurrentUsage("acme", "feature-api-calls");
        _emulator.SetFaults(new EmulatorFaults { GraphQlStatus = 503, FailCount = 1 });

        var result = Assert.Single(await _client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 }], CancellationToken.None));

        Assert.Equal(before + 1, result.CurrentUsage);
        Assert.Equal(2, _emulator.Counters.GraphQlRequests);
    }

    [Fact]
    public async Task ReportUsage_UnsupportedDimensionValue_IsRejectedBeforeSending()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _client.ReportUsageAsync(
            [
                new UsageReport
                {
                    CustomerId = "acme",
                    FeatureId = "feature-api-calls",
                    Value = 1,
                    Dimensions = new Dictionary<string, object?> { ["nested"] = new[] { 1, 2 } },
                },
            ],
            CancellationToken.None));

        Assert.Equal(0, _emulator.Counters.GraphQlRequests);
    }

    [Fact]
    public async Task ReportEvents_Batch_IsRecordedByStigg()
    {
        await _client.ReportEventsAsync(
            [
                new RawEvent
                {
                    EventName = "api_call",
                    CustomerId = "acme",
                    IdempotencyKey = "evt-1",
                    Dimensions = new Dictionary<string, object?> { ["route"] = "/v1/things", ["ok"] = true },
                    Timestamp = 1_767_225_600_000,
                },
                new RawEvent { EventName = "api_call", CustomerId = "globex", ResourceId = "r-9", IdempotencyKey = "evt-2" },
            ],
            CancellationToken.None);

        var events = _emulator.Events;
        Assert.Equal(["evt-1", "evt-2"], events.Select(e => e.IdempotencyKey).Order());
        var first = events.Single(e => e.IdempotencyKey == "evt-1");
        Assert.Equal("api_call", first.EventName);
        Assert.Equal("/v1/things", first.Dimensions?.GetProperty("route").GetString());
        Assert.Equal("r-9", events.Single(e => e.IdempotencyKey == "evt-2").ResourceId);
        Assert.Equal(1, _emulator.Counters.GraphQlRequestsFor("ReportEvent"));
    }

    [Fact]
    public async Task ReportUsage_BadApiKey_ThrowsUnauthorized()
    {
        using var client = new StiggApiClient(TestSupport.OptionsFor(_emulator, apiKey: "bad"), _logger);

        var ex = await Assert.ThrowsAsync<UpstreamException>(() => client.ReportUsageAsync(
            [new UsageReport { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 }], CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unauthorized, ex.Failure);
        Assert.Equal(1, _emulator.Counters.GraphQlRequests);
    }

    private double CurrentUsage(string customerId, string featureId, string? resourceId = null) =>
        _emulator.GetCustomer(customerId, resourceId)!.EntitlementsV2.Single(e => e.Feature?.RefId == featureId).CurrentUsage ?? 0;

    private double CurrentCredit(string customerId, string currencyId) =>
        _emulator.GetCustomer(customerId)!.EntitlementsV2.Single(e => e.Currency?.CurrencyId == currencyId).CurrentUsage ?? 0;
}
