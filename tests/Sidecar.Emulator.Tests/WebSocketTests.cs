using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text.Json;
using Sidecar.Testing;

namespace Sidecar.Emulator.Tests;

public sealed class WebSocketTests : EmulatorTest
{
    private const string EntitlementsSubscription =
        "subscription OnEntitlementsUpdatedV2 { entitlementsUpdatedV2 { customerId resourceId accessDeniedReason entitlements { __typename } } }";

    private const string UsageSubscription =
        "subscription OnUsageUpdatedV2 { usageUpdatedV2 { customerId resourceId entitlementReference { id type } usage { currentUsage usageUpdatedAt usagePeriodStart usagePeriodEnd } } }";

    private const string PackageSubscription =
        "subscription OnPackagePublished { packagePublished { accountId environmentId packageType packageRefId packageVersion migrationType } }";

    [Fact]
    public async Task Connect_WithApiKey_IsAcknowledgedWithSubProtocol()
    {
        await using var socket = await ConnectAsync();

        Assert.Equal("graphql-transport-ws", socket.SubProtocol);
        var counters = await Server.WaitForCountersAsync(c => c.WsOpenConnections == 1, Timeout());
        Assert.Equal(1, counters.WsConnectionsOpened);
    }

    [Theory]
    [InlineData("wrong-key")]
    [InlineData(null)]
    public async Task Connect_BadApiKey_ClosedWith4403InvalidApiKey(string? apiKey)
    {
        await using var socket = await ConnectAsync(apiKey: apiKey);

        var (code, reason) = await socket.ReceiveCloseAsync();

        Assert.Equal(4403, code);
        Assert.Equal("Invalid API key", reason);
        Assert.Equal(1, Server.Counters.AuthFailures);
    }

    [Fact]
    public async Task Connect_WithoutSubProtocol_ClosedWith4406()
    {
        await using var socket = await ConnectAsync(init: false, subProtocol: null);

        var (code, _) = await socket.ReceiveCloseAsync();

        Assert.Equal(4406, code);
    }

    [Fact]
    public async Task Init_Twice_ClosedWith4429()
    {
        await using var socket = await ConnectAsync();

        await socket.SendAsync("""{"type":"connection_init","payload":{"headers":{"X-API-KEY":"test-key"}}}""");

        Assert.Equal(4429, (await socket.ReceiveCloseAsync()).Code);
    }

    [Fact]
    public async Task Subscribe_BeforeAck_ClosedWith4401()
    {
        await using var socket = await ConnectAsync(init: false);

        await socket.SubscribeAsync("1", "OnUsageUpdatedV2", UsageSubscription);

        Assert.Equal(4401, (await socket.ReceiveCloseAsync()).Code);
    }

    [Fact]
    public async Task Subscribe_DuplicateId_ClosedWith4409()
    {
        await using var socket = await ConnectAsync();
        await socket.SubscribeAsync("same", "OnUsageUpdatedV2", UsageSubscription);

        await socket.SubscribeAsync("same", "OnPackagePublished", PackageSubscription);

        var (code, reason) = await socket.ReceiveCloseAsync();
        Assert.Equal(4409, code);
        Assert.Equal("Subscriber for same already exists", reason);
    }

    [Fact]
    public async Task Message_Invalid_ClosedWith4400()
    {
        await using var socket = await ConnectAsync();

        await socket.SendAsync("""{"type":"shout"}""");

        Assert.Equal(4400, (await socket.ReceiveCloseAsync()).Code);
    }

    [Fact]
    public async Task Ping_IsAnsweredWithPongEchoingPayload()
    {
        await using var socket = await ConnectAsync();

        await socket.SendAsync("""{"type":"ping"}""");
        var plain = await socket.ReceiveAsync();
        await socket.SendAsync("""{"type":"ping","payload":{"n":7}}""");
        var echoed = await socket.ReceiveAsync();

        Assert.Equal("pong", plain.GetProperty("type").GetString());
        Assert.Equal("pong", echoed.GetProperty("type").GetString());
        Assert.Equal(7, echoed.GetProperty("payload").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task Subscriptions_ReceiveEventsForAdminChanges()
    {
        await using var socket = await ConnectAsync();
        await socket.SubscribeAsync("e", "OnEntitlementsUpdatedV2", EntitlementsSubscription);
        await socket.SubscribeAsync("u", "OnUsageUpdatedV2", UsageSubscription);
        await socket.SubscribeAsync("p", "OnPackagePublished", PackageSubscription);
        await Server.WaitForCountersAsync(c => c.WsSubscribers == 3, Timeout());
        Clock.SetUtcNow(new DateTimeOffset(2026, 11, 22, 15, 0, 0, TimeSpan.Zero));

        using (var put = await AdminAsync(HttpMethod.Put, "/admin/customers/globex", JsonSerializer.Serialize(EntitlementStates.OneMetered("feature-api-calls", 10, 2), Core.Json.CoreJsonContext.Default.EntitlementsStateDto)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var entitlements = await socket.ReceiveAsync();
        Assert.Equal("next", entitlements.GetProperty("type").GetString());
        Assert.Equal("e", entitlements.GetProperty("id").GetString());
        var updated = entitlements.GetProperty("payload").GetProperty("data").GetProperty("entitlementsUpdatedV2");
        Assert.Equal("globex", updated.GetProperty("customerId").GetString());
        Assert.Equal(JsonValueKind.Null, updated.GetProperty("resourceId").ValueKind);
        Assert.Equal(JsonValueKind.Null, updated.GetProperty("accessDeniedReason").ValueKind);
        var entitlement = updated.GetProperty("entitlements")[0];
        Assert.Equal("FeatureEntitlement", entitlement.GetProperty("__typename").GetString());
        Assert.Equal("2026-11-22T15:00:00.000Z", entitlement.GetProperty("entitlementUpdatedAt").GetString());

        using (var usage = await AdminAsync(HttpMethod.Post, "/admin/usage", """{"customerId":"globex","featureId":"feature-api-calls","value":3}"""))
        {
            Assert.Equal(HttpStatusCode.OK, usage.StatusCode);
        }

        var usageEvent = await socket.ReceiveAsync();
        Assert.Equal("u", usageEvent.GetProperty("id").GetString());
        var usageUpdated = usageEvent.GetProperty("payload").GetProperty("data").GetProperty("usageUpdatedV2");
        Assert.Equal("globex", usageUpdated.GetProperty("customerId").GetString());
        Assert.Equal("feature-api-calls", usageUpdated.GetProperty("entitlementReference").GetProperty("id").GetString());
        Assert.Equal("FEATURE", usageUpdated.GetProperty("entitlementReference").GetProperty("type").GetString());
        Assert.Equal(5, usageUpdated.GetProperty("usage").GetProperty("currentUsage").GetDouble());
        Assert.Equal("2026-11-22T15:00:00.001Z", usageUpdated.GetProperty("usage").GetProperty("usageUpdatedAt").GetString());

        using (var publish = await AdminAsync(HttpMethod.Post, "/admin/packages/publish", """{"migrationType":"ALL_CUSTOMERS","packageRefId":"plan-pro"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, publish.StatusCode);
        }

        var packageEvent = await socket.ReceiveAsync();
        Assert.Equal("p", packageEvent.GetProperty("id").GetString());
        var published = packageEvent.GetProperty("payload").GetProperty("data").GetProperty("packagePublished");
        Assert.Equal("ALL_CUSTOMERS", published.GetProperty("migrationType").GetString());
        Assert.Equal("plan-pro", published.GetProperty("packageRefId").GetString());
        Assert.Equal("PLAN", published.GetProperty("packageType").GetString());
        Assert.Equal(1, published.GetProperty("packageVersion").GetInt32());
        Assert.False(string.IsNullOrEmpty(published.GetProperty("environmentId").GetString()));
    }

    [Fact]
    public async Task Subscriptions_GraphQlUsageReport_PushesFeatureAndCreditUsage()
    {
        await using var socket = await ConnectAsync();
        await socket.SubscribeAsync("u", "OnUsageUpdatedV2", UsageSubscription);
        await Server.WaitForCountersAsync(c => c.WsSubscribers == 1, Timeout());

        await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-ai-summaries","value":4}""");

        var feature = (await socket.ReceiveAsync()).GetProperty("payload").GetProperty("data").GetProperty("usageUpdatedV2");
        var credit = (await socket.ReceiveAsync()).GetProperty("payload").GetProperty("data").GetProperty("usageUpdatedV2");
        Assert.Equal("FEATURE", feature.GetProperty("entitlementReference").GetProperty("type").GetString());
        Assert.Equal(4, feature.GetProperty("usage").GetProperty("currentUsage").GetDouble());
        Assert.Equal("CREDIT", credit.GetProperty("entitlementReference").GetProperty("type").GetString());
        Assert.Equal("ai-credits", credit.GetProperty("entitlementReference").GetProperty("id").GetString());
        Assert.Equal(1208, credit.GetProperty("usage").GetProperty("currentUsage").GetDouble());
    }

    [Fact]
    public async Task Subscriptions_DeleteCustomer_PushesEmptyListWithCustomerNotFound()
    {
        await using var socket = await ConnectAsync();
        await socket.SubscribeAsync("e", "OnEntitlementsUpdatedV2", EntitlementsSubscription);
        await Server.WaitForCountersAsync(c => c.WsSubscribers == 1, Timeout());

        using (var delete = await AdminAsync(HttpMethod.Delete, "/admin/customers/acme?resourceId=workspace-1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        Assert.True(Server.RemoveCustomer("acme"));

        var resource = (await socket.ReceiveAsync()).GetProperty("payload").GetProperty("data").GetProperty("entitlementsUpdatedV2");
        var customer = (await socket.ReceiveAsync()).GetProperty("payload").GetProperty("data").GetProperty("entitlementsUpdatedV2");
        Assert.Equal("workspace-1", resource.GetProperty("resourceId").GetString());
        Assert.Equal("CustomerResourceNotFound", resource.GetProperty("accessDeniedReason").GetString());
        Assert.Equal(JsonValueKind.Null, customer.GetProperty("resourceId").ValueKind);
        Assert.Equal("CustomerNotFound", customer.GetProperty("accessDeniedReason").GetString());
        Assert.Equal(0, customer.GetProperty("entitlements").GetArrayLength());
        var state = (await EdgeStateAsync("acme")).GetProperty("data").GetProperty("entitlementsState");
        Assert.Equal("CustomerNotFound", state.GetProperty("accessDeniedReason").GetString());
    }

    [Fact]
    public async Task Subscribe_ByRootFieldWithoutOperationName_Works()
    {
        await using var socket = await ConnectAsync();
        await socket.SendAsync("""{"id":"x","type":"subscribe","payload":{"query":"subscription { updates: packagePublished { packageRefId } }"}}""");
        await Server.WaitForCountersAsync(c => c.WsSubscribers == 1, Timeout());

        Server.PublishPackage(new PackagePublishRequest { MigrationType = "NEW_CUSTOMERS" });

        var message = await socket.ReceiveAsync();
        Assert.Equal("x", message.GetProperty("id").GetString());
        Assert.Equal("NEW_CUSTOMERS", message.GetProperty("payload").GetProperty("data").GetProperty("packagePublished").GetProperty("migrationType").GetString());
    }

    [Fact]
    public async Task Subscribe_UnknownOperation_SendsErrorAndKeepsSocket()
    {
        await using var socket = await ConnectAsync();

        await socket.SubscribeAsync("legacy", "OnCreditBalanceUpdated", "subscription OnCreditBalanceUpdated { creditBalanceUpdated { customerId } }");
        var error = await socket.ReceiveAsync();
        await socket.SendAsync("""{"type":"ping"}""");
        var pong = await socket.ReceiveAsync();

        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal("legacy", error.GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.Array, error.GetProperty("payload").ValueKind);
        Assert.Equal("pong", pong.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Complete_StopsThatSubscriptionOnly()
    {
        await using var socket = await ConnectAsync();
        await socket.SubscribeAsync("a", "OnPackagePublished", PackageSubscription);
        await socket.SubscribeAsync("b", "OnPackagePublished", PackageSubscription);
        await Server.WaitForCountersAsync(c => c.WsSubscribers == 2, Timeout());

        await socket.SendAsync("""{"id":"a","type":"complete"}""");
        await Server.WaitForCountersAsync(c => c.WsSubscribers == 1, Timeout());
        Server.PublishPackage(new PackagePublishRequest { MigrationType = "ALL_CUSTOMERS" });
        Server.PublishPackage(new PackagePublishRequest { MigrationType = "ALL_CUSTOMERS" });

        // Events arrive in order: two messages for "b" and none for "a" in between.
        var first = await socket.ReceiveAsync();
        var second = await socket.ReceiveAsync();
        Assert.Equal("b", first.GetProperty("id").GetString());
        Assert.Equal("b", second.GetProperty("id").GetString());
        Assert.Equal(2, second.GetProperty("payload").GetProperty("data").GetProperty("packagePublished").GetProperty("packageVersion").GetInt32());
    }

    [Fact]
    public async Task Events_AreNotSentToUnacknowledgedSockets()
    {
        await using var listener = await ConnectAsync();
        await listener.SubscribeAsync("p", "OnPackagePublished", PackageSubscription);
        await using var rejected = await ConnectAsync(apiKey: "wrong-key");
        Assert.Equal(4403, (await rejected.ReceiveCloseAsync()).Code);
        await Server.WaitForCountersAsync(c => c.WsSubscribers == 1, Timeout());

        Server.PublishPackage(new PackagePublishRequest { MigrationType = "ALL_CUSTOMERS" });

        Assert.Equal("p", (await listener.ReceiveAsync()).GetProperty("id").GetString());
        Assert.Equal(2, Server.Counters.WsConnectionsOpened);
    }

    [Fact]
    public async Task Drop_AbortsOpenSockets()
    {
        await using var first = await ConnectAsync();
        await using var second = await ConnectAsync();
        await Server.WaitForCountersAsync(c => c.WsOpenConnections == 2, Timeout());

        using var response = await AdminAsync(HttpMethod.Post, "/admin/ws/drop");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, (await JsonAsync(response)).GetProperty("dropped").GetInt32());
        await Assert.ThrowsAsync<WebSocketException>(first.ReceiveAsync);
        await Assert.ThrowsAsync<WebSocketException>(second.ReceiveAsync);
        var counters = await Server.WaitForCountersAsync(c => c.WsOpenConnections == 0, Timeout());
        Assert.Equal(0, counters.WsSubscribers);
    }

    [Fact]
    public async Task Refuse_Fault_RejectsNewUpgradesWith503()
    {
        await using var open = await ConnectAsync();
        Server.SetFaults(new EmulatorFaults { WsRefuse = true });

        var error = await Assert.ThrowsAsync<WebSocketException>(() => GraphQlSocket.ConnectAsync(new Uri(Server.WsUrl, "/graphql"), "graphql-transport-ws"));

        Assert.Contains("503", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Server.Counters.FaultsInjected);
        await open.SendAsync("""{"type":"ping"}""");
        Assert.Equal("pong", (await open.ReceiveAsync()).GetProperty("type").GetString());

        Server.ClearFaults();
        await using var again = await ConnectAsync();
        Assert.Equal(2, Server.Counters.WsConnectionsOpened);
    }

    [Fact]
    public async Task Close_ByClient_EndsConnectionAndReleasesSubscriptions()
    {
        var socket = await ConnectAsync();
        await socket.SubscribeAsync("u", "OnUsageUpdatedV2", UsageSubscription);
        await Server.WaitForCountersAsync(c => c.WsSubscribers == 1, Timeout());

        await socket.CloseAsync();
        await socket.DisposeAsync();

        var counters = await Server.WaitForCountersAsync(c => c.WsOpenConnections == 0, Timeout());
        Assert.Equal(0, counters.WsSubscribers);
    }

    [Fact]
    public async Task Upgrade_PlainGet_Returns400()
    {
        using var response = await Http.GetAsync("/graphql");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}

/// <summary>A short init timeout, kept apart so the other socket tests are not racing it on a busy machine.</summary>
public sealed class WebSocketInitTimeoutTests : EmulatorTest
{
    protected override EmulatorOptions Options => base.Options with { ConnectionInitTimeout = TimeSpan.FromMilliseconds(200) };

    [Fact]
    public async Task Connect_NoInitWithinTimeout_ClosedWith4408()
    {
        await using var socket = await ConnectAsync(init: false);

        var (code, reason) = await socket.ReceiveCloseAsync();

        Assert.Equal(4408, code);
        Assert.Equal("Connection initialisation timeout", reason);
    }
}
