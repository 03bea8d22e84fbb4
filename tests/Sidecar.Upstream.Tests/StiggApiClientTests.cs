using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Emulator;
using Stigg.Sidecar.V1;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

/// <summary>The Edge/GraphQL reads and their retry budget, against the emulator over loopback.</summary>
public sealed class StiggApiClientTests : IAsyncLifetime
{
    private readonly CapturingLogger _logger = new();
    private EmulatorServer _emulator = null!;

    public async Task InitializeAsync() => _emulator = await TestSupport.StartEmulatorAsync();

    public async Task DisposeAsync()
    {
        await _emulator.DisposeAsync();
        Assert.DoesNotContain(_logger.Entries, e => e.FullText.Contains(TestSupport.ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task FetchEntitlementsState_EdgeEnabled_ReadsTheEdge()
    {
        using var client = Client();

        var snapshot = await client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None);

        Assert.Equal(new CustomerKey("acme", null), snapshot.Key);
        Assert.Null(snapshot.CustomerReason);
        var apiCalls = Assert.Single(snapshot.Features, f => f.FeatureId == "feature-api-calls");
        Assert.Equal(1000, apiCalls.UsageLimit);
        Assert.Contains(snapshot.Credits, c => c.CurrencyId == "ai-credits");
        var counters = _emulator.Counters;
        Assert.Equal(1, counters.EdgeRequestsFor("acme"));
        Assert.Equal(0, counters.GraphQlRequests);
    }

    [Fact]
    public async Task FetchEntitlementsState_ResourceId_ReadsTheResourceEntry()
    {
        using var client = Client();

        var snapshot = await client.FetchEntitlementsAsync(new CustomerKey("acme", "workspace-1"), skipEdge: false, CancellationToken.None);

        Assert.Equal(new CustomerKey("acme", "workspace-1"), snapshot.Key);
        Assert.Equal(["feature-api-calls", "feature-sso"], snapshot.Features.Select(f => f.FeatureId).Order());
        Assert.Empty(snapshot.Credits);
    }

    [Fact]
    public async Task FetchEntitlementsState_EdgeDisabled_UsesGraphQl()
    {
        using var client = Client(TestSupport.OptionsFor(_emulator) with { EdgeEnabled = false });

        var snapshot = await client.FetchEntitlementsAsync(new CustomerKey("globex", null), skipEdge: false, CancellationToken.None);

        Assert.Contains(snapshot.Features, f => f.FeatureId == "feature-reports");
        var counters = _emulator.Counters;
        Assert.Equal(1, counters.GraphQlRequestsFor("GetEntitlementsState"));
        Assert.Equal(0, counters.EdgeRequests);
    }

    [Fact]
    public async Task FetchEntitlementsState_SkipEdge_UsesGraphQlForTheResource()
    {
        using var client = Client();

        var snapshot = await client.FetchEntitlementsAsync(new CustomerKey("acme", "workspace-1"), skipEdge: true, CancellationToken.None);

        Assert.Equal(2, snapshot.Features.Count);
        Assert.Equal(1, _emulator.Counters.GraphQlRequestsFor("GetEntitlementsState"));
        Assert.Equal(0, _emulator.Counters.EdgeRequests);
    }

    [Fact]
    public async Task FetchEntitlementsState_UnknownCustomer_ReturnsCustomerNotFound()
    {
        using var client = Client();

        var snapshot = await client.FetchEntitlementsAsync(new CustomerKey("nobody-here", null), skipEdge: false, CancellationToken.None);

        Assert.Equal(AccessDeniedReason.CustomerNotFound, snapshot.CustomerReason);
        Assert.Empty(snapshot.Features);
        Assert.Empty(snapshot.Credits);
    }

    [Fact]
    public async Task FetchEntitlements_Answer_IsStampedWithTheClientsClock()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000);
        _emulator.SetCustomer("clocked", null, BooleanState("feature-clocked"));
        using var client = new StiggApiClient(TestSupport.OptionsFor(_emulator), _logger, new FakeWallClock(now));

        var snapshot = await client.FetchEntitlementsAsync(new CustomerKey("clocked", null), skipEdge: false, CancellationToken.None);

        Assert.Equal(now.ToUnixTimeMilliseconds(), snapshot.FetchedAt);

        // The version comes from the data (the emulator's entitlementUpdatedAt), never from the clock.
        var feature = Assert.Single(snapshot.Features);
        Assert.NotEqual(now.ToUnixTimeMilliseconds(), feature.EntitlementUpdatedAt);
        Assert.Equal(feature.EntitlementUpdatedAt, snapshot.EntitlementsTimestamp);
    }

    [Theory]
    [InlineData("team a/b", "res/ 1")]
    [InlineData("ünïcödé-客户", "ресурс?x=1&y=#2")]
    [InlineData("100%+plus", null)]
    public async Task FetchEntitlementsState_OddIds_ArePercentEncodedAndRoundTrip(string customerId, string? resourceId)
    {
        _emulator.SetCustomer(customerId, resourceId, BooleanState("feature-odd"));
        using var client = Client();

        var viaEdge = await client.FetchEntitlementsAsync(new CustomerKey(customerId, resourceId), skipEdge: false, CancellationToken.None);
        var viaGraphQl = await client.FetchEntitlementsAsync(new CustomerKey(customerId, resourceId), skipEdge: true, CancellationToken.None);

        Assert.Equal("feature-odd", Assert.Single(viaEdge.Features).FeatureId);
        Assert.Equal("feature-odd", Assert.Single(viaGraphQl.Features).FeatureId);
        Assert.Equal(1, _emulator.Counters.EdgeRequestsFor(customerId));
    }

    [Fact]
    public void EntitlementsStateUri_OddIds_EscapesReservedCharacters()
    {
        using var client = Client();

        var uri = client.EntitlementsStateUri(new CustomerKey("a/b c", "r?&#"));

        Assert.EndsWith("/v1/c/a%2Fb%20c/entitlements-state.json?resourceId=r%3F%26%23", uri.AbsoluteUri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FetchEntitlementsState_BadApiKey_ThrowsUnauthorizedWithoutRetrying()
    {
        using var client = Client(TestSupport.OptionsFor(_emulator, apiKey: "wrong-key-123"));

        var ex = await Assert.ThrowsAsync<UpstreamException>(
            () => client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unauthorized, ex.Failure);
        Assert.Equal(401, ex.StatusCode);
        Assert.Equal(1, ex.Attempts);
        Assert.Equal(1, _emulator.Counters.EdgeRequests);
        Assert.DoesNotContain("wrong-key-123", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FetchEntitlementsState_BadApiKeyOnGraphQl_ThrowsUnauthorizedWithoutRetrying()
    {
        using var client = Client(TestSupport.OptionsFor(_emulator, apiKey: "wrong-key-123") with { EdgeEnabled = false });

        var ex = await Assert.ThrowsAsync<UpstreamException>(
            () => client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unauthorized, ex.Failure);
        Assert.Equal(1, _emulator.Counters.GraphQlRequests);
    }

    [Fact]
    public async Task FetchEntitlementsState_TwoForced500s_SucceedsOnTheThirdAttempt()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeStatus = 500, FailCount = 2 });
        using var client = Client();

        var snapshot = await client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None);

        Assert.NotEmpty(snapshot.Features);
        Assert.Equal(3, _emulator.Counters.EdgeRequestsFor("acme"));
        Assert.True(_logger.Contains("Retrying"));
    }

    [Fact]
    public async Task FetchEntitlementsState_PersistentOutage_GivesUpAfterMaxRetries()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeStatus = 503 });
        using var client = Client(TestSupport.OptionsFor(_emulator) with { MaxRetries = 2 });

        var ex = await Assert.ThrowsAsync<UpstreamException>(
            () => client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unavailable, ex.Failure);
        Assert.Equal(503, ex.StatusCode);
        Assert.Equal(3, ex.Attempts);
        Assert.Equal(3, _emulator.Counters.EdgeRequests);
    }

    [Fact]
    public async Task FetchEntitlementsState_RetryAfterBeyondBudget_FailsAtOnceAsUnavailable()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeStatus = 429, RetryAfterSeconds = 30 });
        using var client = Client(TestSupport.OptionsFor(_emulator) with { EntitlementsTimeout = TimeSpan.FromSeconds(2) });

        var ex = await Assert.ThrowsAsync<UpstreamException>(
            () => client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unavailable, ex.Failure);
        Assert.Equal(429, ex.StatusCode);
        Assert.Equal(1, ex.Attempts);
        Assert.Equal(1, _emulator.Counters.EdgeRequests);
    }

    [Fact]
    public async Task FetchEntitlementsState_RetryAfterWithinBudget_WaitsAndSucceeds()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeStatus = 503, RetryAfterSeconds = 1, FailCount = 1 });
        using var client = Client();

        var snapshot = await client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None);

        Assert.NotEmpty(snapshot.Features);
        Assert.Equal(2, _emulator.Counters.EdgeRequests);
    }

    [Fact]
    public async Task FetchEntitlementsState_LatencyBeyondBudget_ThrowsUnavailable()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeLatencyMs = 10_000 });
        using var client = Client(TestSupport.OptionsFor(_emulator) with
        {
            EntitlementsTimeout = TimeSpan.FromMilliseconds(400),
            EntitlementsAttemptTimeout = TimeSpan.FromMilliseconds(150),
        });

        var ex = await Assert.ThrowsAsync<UpstreamException>(
            () => client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unavailable, ex.Failure);
        Assert.Null(ex.StatusCode);
    }

    [Fact]
    public async Task FetchEntitlementsState_NothingListening_ThrowsUnavailable()
    {
        var closedPort = new Uri($"http://127.0.0.1:{LoopbackPort.Candidate()}"); // nobody listens there
        using var client = Client(TestSupport.OptionsFor(_emulator) with { EdgeApiUrl = closedPort, MaxRetries = 1 });

        var ex = await Assert.ThrowsAsync<UpstreamException>(
            () => client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unavailable, ex.Failure);
        Assert.Equal(2, ex.Attempts);
    }

    [Fact]
    public async Task FetchEntitlementsState_CallerCancels_ThrowsOperationCanceled()
    {
        _emulator.SetFaults(new EmulatorFaults { EdgeLatencyMs = 10_000 });
        using var client = Client();
        using var cts = new CancellationTokenSource();

        var fetch = client.FetchEntitlementsAsync(new CustomerKey("acme", null), skipEdge: false, cts.Token);
        await _emulator.WaitForCountersAsync(c => c.EdgeRequests >= 1).Within();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fetch);
    }

    [Fact]
    public async Task ValidateApiKey_GoodKey_ChecksTheEdgeSdkConfiguration()
    {
        using var client = Client();

        await client.ValidateApiKeyAsync(CancellationToken.None);

        Assert.Equal(1, _emulator.Counters.SdkConfigurationRequests);
    }

    [Fact]
    public async Task ValidateApiKey_EdgeDisabled_AsksGraphQl()
    {
        using var client = Client(TestSupport.OptionsFor(_emulator) with { EdgeEnabled = false });

        await client.ValidateApiKeyAsync(CancellationToken.None);

        Assert.Equal(1, _emulator.Counters.GraphQlRequestsFor("GetSdkConfiguration"));
        Assert.Equal(0, _emulator.Counters.SdkConfigurationRequests);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ValidateApiKey_BadKey_ThrowsUnauthorized(bool edgeEnabled)
    {
        using var client = Client(TestSupport.OptionsFor(_emulator, apiKey: "not-the-key") with { EdgeEnabled = edgeEnabled });

        var ex = await Assert.ThrowsAsync<UpstreamException>(() => client.ValidateApiKeyAsync(CancellationToken.None));

        Assert.Equal(UpstreamFailure.Unauthorized, ex.Failure);
        Assert.Equal(1, _emulator.Counters.AuthFailures);
    }

    private StiggApiClient Client(UpstreamOptions? options = null) =>
        new(options ?? TestSupport.OptionsFor(_emulator), _logger);

    internal static EntitlementsStateDto BooleanState(string featureId) => new()
    {
        EntitlementsV2 =
        [
            new EntitlementDto
            {
                TypeName = EntitlementDto.FeatureTypeName,
                IsGranted = true,
                Feature = new FeatureDto { RefId = featureId, DisplayName = featureId, FeatureType = "BOOLEAN" },
            },
        ],
    };
}
