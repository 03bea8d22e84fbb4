using System.Threading.Channels;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Emulator;
using Stigg.Sidecar.V1;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

/// <summary>The graphql-transport-ws client against the emulator's socket, driven through the admin API.</summary>
public sealed class EventStreamTests : IAsyncLifetime
{
    private readonly CapturingLogger _logger = new();
    private readonly Channel<CustomerSnapshot> _entitlements = Channel.CreateUnbounded<CustomerSnapshot>();
    private readonly Channel<CustomerKey> _removed = Channel.CreateUnbounded<CustomerKey>();
    private readonly Channel<(CustomerKey Key, UsageUpdate Update)> _usage = Channel.CreateUnbounded<(CustomerKey, UsageUpdate)>();
    private readonly Channel<bool> _packages = Channel.CreateUnbounded<bool>();
    private readonly Channel<bool> _connected = Channel.CreateUnbounded<bool>();
    private readonly Channel<EventStreamState> _states = Channel.CreateUnbounded<EventStreamState>();
    private EmulatorServer _emulator = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _emulator = await TestSupport.StartEmulatorAsync();
        _admin = new HttpClient { BaseAddress = _emulator.BaseUrl };
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _emulator.DisposeAsync();
        Assert.DoesNotContain(_logger.Entries, e => e.FullText.Contains(TestSupport.ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_GoodKey_ConnectsSubscribesAndReportsFirstConnection()
    {
        await using var stream = await StartAsync();

        Assert.False(await _connected.Reader.ReadAsync().AsTask().Within());
        await _emulator.WaitForCountersAsync(c => c.WsSubscribers == 3).Within();
        Assert.Equal(EventStreamState.Connected, stream.State);
        Assert.Equal(new Uri(_emulator.WsUrl, "/graphql"), stream.Url);
    }

    [Fact]
    public async Task EntitlementsChanged_ThroughAdminApi_DeliversTheNewState()
    {
        await using var stream = await StartSubscribedAsync();

        var body = """{"accessDeniedReason":null,"entitlementsV2":[{"__typename":"FeatureEntitlement","isGranted":true,"feature":{"refId":"feature-new","featureType":"BOOLEAN"}}]}""";
        using (var put = await _admin.PutAsync("/admin/customers/globex", new StringContent(body, System.Text.Encoding.UTF8, "application/json")))
        {
            put.EnsureSuccessStatusCode();
        }

        var snapshot = await _entitlements.Reader.ReadAsync().AsTask().Within();
        Assert.Equal(new CustomerKey("globex", null), snapshot.Key);
        var entitlement = Assert.Single(snapshot.Features);
        Assert.Equal("feature-new", entitlement.FeatureId);
        Assert.NotEqual(0, entitlement.EntitlementUpdatedAt);
        Assert.Equal(entitlement.EntitlementUpdatedAt, snapshot.EntitlementsTimestamp);
        Assert.Null(snapshot.CustomerReason);
    }

    [Fact]
    public async Task ResourceEntitlementsChanged_DeliversTheResourceKey()
    {
        await using var stream = await StartSubscribedAsync();

        _emulator.SetCustomer("acme", "workspace-1", StiggApiClientTests.BooleanState("feature-scoped"));

        var snapshot = await _entitlements.Reader.ReadAsync().AsTask().Within();
        Assert.Equal(new CustomerKey("acme", "workspace-1"), snapshot.Key);
        Assert.Equal("feature-scoped", Assert.Single(snapshot.Features).FeatureId);
    }

    [Fact]
    public async Task CustomerDeleted_DeliversAnEmptyStateWithTheReason()
    {
        await using var stream = await StartSubscribedAsync();

        using (var delete = await _admin.DeleteAsync("/admin/customers/globex"))
        {
            delete.EnsureSuccessStatusCode();
        }

        var snapshot = await _entitlements.Reader.ReadAsync().AsTask().Within();
        Assert.Equal(new CustomerKey("globex", null), snapshot.Key);
        Assert.Empty(snapshot.Features);
        Assert.Equal(AccessDeniedReason.CustomerNotFound, snapshot.CustomerReason);
        Assert.False(_removed.Reader.TryRead(out _));
    }

    [Fact]
    public async Task EntitlementsCleared_EmptyListWithoutReason_DeliversARemoval()
    {
        await using var stream = await StartSubscribedAsync();

        _emulator.SetCustomer("globex", null, new EntitlementsStateDto());

        Assert.Equal(new CustomerKey("globex", null), await _removed.Reader.ReadAsync().AsTask().Within());
        Assert.False(_entitlements.Reader.TryRead(out _));
    }

    [Fact]
    public async Task FeatureUsageChanged_DeliversAnAbsoluteUsageWithItsTimestamp()
    {
        await using var stream = await StartSubscribedAsync();

        var change = _emulator.ReportUsage(new AdminUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 10 });

        var (key, update) = await _usage.Reader.ReadAsync().AsTask().Within();
        Assert.Equal(new CustomerKey("acme", null), key);
        Assert.Equal(EntitlementRefType.Feature, update.Type);
        Assert.Equal("feature-api-calls", update.Id);
        Assert.Equal(change.CurrentUsage, update.CurrentUsage);
        Assert.Equal(change.UsageUpdatedAt, update.Timestamp);
        Assert.Equal(change.UsagePeriodEnd, update.UsagePeriodEnd);
    }

    [Fact]
    public async Task CreditUsageChanged_DeliversACreditUpdate()
    {
        await using var stream = await StartSubscribedAsync();

        var change = _emulator.ReportUsage(new AdminUsageRequest { CustomerId = "initech", CurrencyId = "ai-credits", Value = 5 });

        var (key, update) = await _usage.Reader.ReadAsync().AsTask().Within();
        Assert.Equal(new CustomerKey("initech", null), key);
        Assert.Equal(EntitlementRefType.Credit, update.Type);
        Assert.Equal("ai-credits", update.Id);
        Assert.Equal(change.CurrentUsage, update.CurrentUsage);
    }

    [Theory]
    [InlineData("ALL_CUSTOMERS", true)]
    [InlineData("NEW_CUSTOMERS", false)]
    public async Task PackagePublished_DeliversWhetherAllCustomersMigrate(string migrationType, bool allCustomers)
    {
        await using var stream = await StartSubscribedAsync();

        using (var post = await _admin.PostAsync(
            "/admin/packages/publish",
            new StringContent($$"""{"migrationType":"{{migrationType}}"}""", System.Text.Encoding.UTF8, "application/json")))
        {
            post.EnsureSuccessStatusCode();
        }

        Assert.Equal(allCustomers, await _packages.Reader.ReadAsync().AsTask().Within());
    }

    [Fact]
    public async Task HandlerThrows_IsLoggedAndLaterEventsStillArrive()
    {
        var calls = 0;
        var handlers = Handlers() with
        {
            OnEntitlementsUpdated = snapshot =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    throw new InvalidOperationException("handler bug");
                }

                _entitlements.Writer.TryWrite(snapshot);
                return default;
            },
        };
        await using var stream = await StartSubscribedAsync(handlers: handlers);

        _emulator.SetCustomer("globex", null, StiggApiClientTests.BooleanState("first"));
        _emulator.SetCustomer("globex", null, StiggApiClientTests.BooleanState("second"));

        var snapshot = await _entitlements.Reader.ReadAsync().AsTask().Within();
        Assert.Equal("second", Assert.Single(snapshot.Features).FeatureId);
        Assert.True(_logger.Contains("handler bug"));
        Assert.Equal(EventStreamState.Connected, stream.State);
    }

    [Fact]
    public async Task SocketDropped_ReconnectsAndReportsAReconnect()
    {
        await using var stream = await StartSubscribedAsync();
        Assert.False(await _connected.Reader.ReadAsync().AsTask().Within());

        using (var drop = await _admin.PostAsync("/admin/ws/drop", content: null))
        {
            drop.EnsureSuccessStatusCode();
        }

        Assert.True(await _connected.Reader.ReadAsync().AsTask().Within());
        Assert.Equal(2, stream.ConnectionCount);

        // The fresh socket carries events again.
        await _emulator.WaitForCountersAsync(c => c.WsSubscribers == 3).Within();
        _emulator.PublishPackage(new PackagePublishRequest { MigrationType = "ALL_CUSTOMERS" });
        Assert.True(await _packages.Reader.ReadAsync().AsTask().Within());
    }

    [Fact]
    public async Task BadApiKey_StopsForGoodWithInvalidApiKey()
    {
        await using var stream = await StartAsync(TestSupport.OptionsFor(_emulator, apiKey: "revoked-key"));

        await stream.Completion.Within();

        Assert.Equal(EventStreamState.InvalidApiKey, stream.State);
        Assert.Equal(1, _emulator.Counters.WsConnectionsOpened);
        Assert.Equal(0, stream.ConnectionCount);
        Assert.False(_connected.Reader.TryRead(out _));
        Assert.True(_logger.Contains("API key was rejected"));
        Assert.DoesNotContain(_logger.Entries, e => e.FullText.Contains("revoked-key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UpgradeRefused_KeepsRetryingUntilTheServerAccepts()
    {
        _emulator.SetFaults(new EmulatorFaults { WsRefuse = true });
        await using var stream = await StartAsync();

        await _emulator.WaitForCountersAsync(c => c.FaultsInjected >= 2).Within();
        _emulator.ClearFaults();

        Assert.False(await _connected.Reader.ReadAsync().AsTask().Within());
        Assert.Equal(EventStreamState.Connected, stream.State);
        Assert.Contains(EventStreamState.Disconnected, DrainStates());
    }

    [Fact]
    public async Task Dispose_ClosesTheSocketCleanly()
    {
        var stream = await StartSubscribedAsync();

        await stream.DisposeAsync();

        await _emulator.WaitForCountersAsync(c => c.WsOpenConnections == 0).Within();
        Assert.Equal(EventStreamState.Disconnected, stream.State);
        Assert.True(stream.Completion.IsCompleted);
        _logger.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task StartToken_Cancelled_StopsTheStream()
    {
        using var cts = new CancellationTokenSource();
        var stream = new EventStream(TestSupport.OptionsFor(_emulator), Handlers(), _logger);
        await stream.StartAsync(cts.Token);
        await _emulator.WaitForCountersAsync(c => c.WsSubscribers == 3).Within();

        await cts.CancelAsync();

        await stream.Completion.Within();
        await _emulator.WaitForCountersAsync(c => c.WsOpenConnections == 0).Within();
        await stream.DisposeAsync();
    }

    [Theory]
    [InlineData("wss://api.stigg.io", "wss://api.stigg.io/graphql")]
    [InlineData("https://api.stigg.io/", "wss://api.stigg.io/graphql")]
    [InlineData("http://127.0.0.1:8080/base/", "ws://127.0.0.1:8080/base/graphql")]
    public void GraphQlSocketUri_AnyBase_EndsInGraphQlWithAWebSocketScheme(string baseUrl, string expected)
    {
        Assert.Equal(new Uri(expected), EventStream.GraphQlSocketUri(new Uri(baseUrl)));
    }

    private EventStreamHandlers Handlers() => new()
    {
        OnEntitlementsUpdated = snapshot => Write(_entitlements, snapshot),
        OnEntitlementsRemoved = key => Write(_removed, key),
        OnUsageUpdated = (k, u) => Write(_usage, (k, u)),
        OnPackagePublished = all => Write(_packages, all),
        OnConnected = reconnect => Write(_connected, reconnect),
        OnStateChanged = s => _states.Writer.TryWrite(s),
    };

    private static ValueTask Write<T>(Channel<T> channel, T item)
    {
        channel.Writer.TryWrite(item);
        return default;
    }

    private List<EventStreamState> DrainStates()
    {
        var states = new List<EventStreamState>();
        while (_states.Reader.TryRead(out var s))
        {
            states.Add(s);
        }

        return states;
    }

    private async Task<EventStream> StartAsync(UpstreamOptions? options = null, EventStreamHandlers? handlers = null)
    {
        var stream = new EventStream(options ?? TestSupport.OptionsFor(_emulator), handlers ?? Handlers(), _logger);
        await stream.StartAsync(CancellationToken.None);
        return stream;
    }

    /// <summary>Starts and waits until the server holds all three subscriptions, so pushed events reach us.</summary>
    private async Task<EventStream> StartSubscribedAsync(EventStreamHandlers? handlers = null)
    {
        var stream = await StartAsync(handlers: handlers);
        await _emulator.WaitForCountersAsync(c => c.WsSubscribers == 3).Within();
        return stream;
    }
}
