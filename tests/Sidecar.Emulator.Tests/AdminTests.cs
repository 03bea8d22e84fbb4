using System.Net;
using System.Net.Http;
using System.Text.Json;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Testing;

namespace Sidecar.Emulator.Tests;

public sealed class AdminTests : EmulatorTest
{
    [Fact]
    public async Task PutCustomer_ReplacesStateAndStampsEntitlementUpdatedAt()
    {
        Clock.SetUtcNow(new DateTimeOffset(2026, 11, 22, 16, 0, 0, TimeSpan.Zero));
        var body = JsonSerializer.Serialize(EntitlementStates.OneMetered("feature-api-calls", 10, 4), CoreJsonContext.Default.EntitlementsStateDto);

        using var put = await AdminAsync(HttpMethod.Put, "/admin/customers/newco", body);

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var stored = (await JsonAsync(put)).GetProperty("entitlementsV2")[0];
        Assert.Equal("2026-11-22T16:00:00.000Z", stored.GetProperty("entitlementUpdatedAt").GetString());
        var served = FeatureIn((await EdgeStateAsync("newco")).GetProperty("data").GetProperty("entitlementsState").GetProperty("entitlementsV2"), "feature-api-calls");
        Assert.Equal(4, served.GetProperty("currentUsage").GetDouble());
        Assert.Equal("2026-11-22T16:00:00.000Z", served.GetProperty("entitlementUpdatedAt").GetString());
    }

    [Fact]
    public void PutCustomer_ClockBehindStoredStamp_StillAdvancesTimestamp()
    {
        // The fixture says 2026-11-01T10:00; a clock before that must not produce an older version.
        Clock.AdjustTime(new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero)); // backwards: AdjustTime, not SetUtcNow

        var stored = Server.SetCustomer("acme", null, EntitlementStates.OneBoolean("feature-sso"));

        var stamp = stored.EntitlementsV2[0].EntitlementUpdatedAt;
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() + 1, stamp);
    }

    [Fact]
    public async Task PutCustomer_ResourceScoped_AddsResourceEntry()
    {
        var body = JsonSerializer.Serialize(EntitlementStates.OneBoolean("feature-sso"), CoreJsonContext.Default.EntitlementsStateDto);

        using var put = await AdminAsync(HttpMethod.Put, "/admin/customers/globex?resourceId=proj-9", body);
        using var get = await AdminAsync(HttpMethod.Get, "/admin/customers/globex?resourceId=proj-9");

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(1, (await JsonAsync(get)).GetProperty("entitlementsV2").GetArrayLength());
        var globalList = (await EdgeStateAsync("globex")).GetProperty("data").GetProperty("entitlementsState").GetProperty("entitlementsV2");
        Assert.Equal(4, globalList.GetArrayLength());
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"entitlementsV2":[{"__typename":"FeatureEntitlement","isGranted":true}]}""")]
    public async Task PutCustomer_InvalidBody_Returns400AndKeepsState(string body)
    {
        using var put = await AdminAsync(HttpMethod.Put, "/admin/customers/acme", body);

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.False(string.IsNullOrEmpty((await JsonAsync(put)).GetProperty("error").GetString()));
        Assert.Equal(7, Server.GetCustomer("acme")!.EntitlementsV2.Count);
    }

    [Fact]
    public async Task GetCustomer_ReflectsUsageAndUnknownIs404()
    {
        await ReportUsageAsync("""{"customerId":"globex","featureId":"feature-api-calls","value":1}""");

        using var known = await AdminAsync(HttpMethod.Get, "/admin/customers/globex");
        using var unknown = await AdminAsync(HttpMethod.Get, "/admin/customers/nobody");

        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        Assert.Equal(101, FeatureIn((await JsonAsync(known)).GetProperty("entitlementsV2"), "feature-api-calls").GetProperty("currentUsage").GetDouble());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task ListCustomers_ReturnsFixtureEntries()
    {
        using var response = await AdminAsync(HttpMethod.Get, "/admin/customers");

        var entries = (await JsonAsync(response)).EnumerateArray()
            .Select(e => e.GetProperty("customerId").GetString() + "/" + e.GetProperty("resourceId").GetString())
            .ToList();
        Assert.Equal(["acme/", "acme/workspace-1", "globex/", "hooli/", "initech/", "umbrella/"], entries);
    }

    [Fact]
    public async Task DeleteCustomer_Unknown_Returns404()
    {
        using var response = await AdminAsync(HttpMethod.Delete, "/admin/customers/nobody");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(0, Server.Counters.EventsPublished);
    }

    [Fact]
    public async Task AdminUsage_Currency_SetsCreditConsumption()
    {
        using var response = await AdminAsync(HttpMethod.Post, "/admin/usage", """{"customerId":"initech","currencyId":"ai-credits","value":250,"updateBehavior":"SET"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var change = await JsonAsync(response);
        Assert.Equal("CREDIT", change.GetProperty("entitlementReference").GetProperty("type").GetString());
        Assert.Equal(250, change.GetProperty("usage").GetProperty("currentUsage").GetDouble());
        var credit = CreditIn((await EdgeStateAsync("initech")).GetProperty("data").GetProperty("entitlementsState").GetProperty("entitlementsV2"), "ai-credits");
        Assert.Equal(250, credit.GetProperty("currentUsage").GetDouble());
    }

    [Fact]
    public void AdminUsage_CSharpApi_ReturnsChange()
    {
        var change = Server.ReportUsage(new AdminUsageRequest { CustomerId = "acme", ResourceId = "workspace-1", FeatureId = "feature-api-calls", Value = 5 });

        Assert.Equal(EntitlementRefType.Feature, change.Type);
        Assert.Equal("workspace-1", change.ResourceId);
        Assert.Equal(15, change.CurrentUsage);
        Assert.Equal(Clock.GetUtcNow().ToUnixTimeMilliseconds(), change.UsageUpdatedAt);
        Assert.Equal(1, Server.Counters.UsageChanges);
    }

    [Theory]
    [InlineData("""{"customerId":"nobody","featureId":"feature-api-calls","value":1}""", HttpStatusCode.NotFound)]
    [InlineData("""{"customerId":"acme","currencyId":"gold","value":1}""", HttpStatusCode.NotFound)]
    [InlineData("""{"customerId":"acme","featureId":"feature-api-calls","currencyId":"ai-credits","value":1}""", HttpStatusCode.BadRequest)]
    [InlineData("""{"customerId":"acme","featureId":"feature-api-calls"}""", HttpStatusCode.BadRequest)]
    public async Task AdminUsage_Rejected_ReturnsStatus(string body, HttpStatusCode expected)
    {
        using var response = await AdminAsync(HttpMethod.Post, "/admin/usage", body);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task PublishPackage_InvalidMigrationType_Returns400()
    {
        using var response = await AdminAsync(HttpMethod.Post, "/admin/packages/publish", """{"migrationType":"SOME_CUSTOMERS"}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task PublishPackage_SameRefTwice_IncrementsVersion()
    {
        Server.PublishPackage(new PackagePublishRequest { MigrationType = "NEW_CUSTOMERS", PackageRefId = "plan-basic" });
        using var response = await AdminAsync(HttpMethod.Post, "/admin/packages/publish", """{"migrationType":"NEW_CUSTOMERS","packageRefId":"plan-basic","packageType":"ADDON"}""");

        var published = await JsonAsync(response);
        Assert.Equal(2, published.GetProperty("packageVersion").GetInt32());
        Assert.Equal("ADDON", published.GetProperty("packageType").GetString());
    }

    [Fact]
    public async Task Faults_ForcedEdge500WithFailCount_FailsThatManyThenRecovers()
    {
        using (var put = await AdminAsync(HttpMethod.Put, "/admin/faults", """{"edgeStatus":500,"failCount":2}"""))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await EdgeAsync("/v1/c/acme/entitlements-state.json");
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError, HttpStatusCode.OK], statuses);
        var counters = Server.Counters;
        Assert.Equal(2, counters.FaultsInjected);
        Assert.Equal(3, counters.EdgeRequestsFor("acme"));
    }

    [Fact]
    public async Task Faults_Forced429_SendsRetryAfterUntilCleared()
    {
        Server.SetFaults(new EmulatorFaults { EdgeStatus = 429, RetryAfterSeconds = 7 });

        using (var first = await EdgeAsync("/v1/c/acme/entitlements-state.json"))
        using (var second = await EdgeAsync("/v1/config/server-sdk-configuration.json"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, first.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), first.Headers.RetryAfter?.Delta);
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        }

        using (var clear = await AdminAsync(HttpMethod.Delete, "/admin/faults"))
        {
            Assert.Equal(HttpStatusCode.NoContent, clear.StatusCode);
        }

        using var after = await EdgeAsync("/v1/c/acme/entitlements-state.json");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(2, Server.Counters.FaultsInjected);
    }

    [Fact]
    public async Task Faults_ForcedGraphQl503_DoesNotTouchEdgeOrApplyUsage()
    {
        Server.SetFaults(new EmulatorFaults { GraphQlStatus = 503, RetryAfterSeconds = 2, FailCount = 1 });

        using var failed = await GraphQlRawAsync(GraphQlBody("ReportUsage", ReportUsageMutation, """{"input":{"customerId":"acme","featureId":"feature-api-calls","value":1}}"""));
        using var edge = await EdgeAsync("/v1/c/acme/entitlements-state.json");
        var retried = await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-api-calls","value":1}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), failed.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.OK, edge.StatusCode);
        Assert.Equal(251, retried.GetProperty("data").GetProperty("reportUsage").GetProperty("currentUsage").GetDouble());
        Assert.Equal(2, Server.Counters.GraphQlRequestsFor("ReportUsage"));
        Assert.Equal(1, Server.Counters.UsageChanges);
    }

    [Fact]
    public async Task Faults_Forced500_HasNoRetryAfter()
    {
        Server.SetFaults(new EmulatorFaults { EdgeStatus = 500, RetryAfterSeconds = 9 });

        using var response = await EdgeAsync("/v1/c/acme/entitlements-state.json");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Null(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Faults_Latency_StillAnswersAndCounts()
    {
        using (var put = await AdminAsync(HttpMethod.Put, "/admin/faults", """{"edgeLatencyMs":20,"graphQlLatencyMs":20}"""))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var edge = await EdgeAsync("/v1/c/acme/entitlements-state.json");
        var graphQl = await GraphQlAsync("GetSdkConfiguration", "query GetSdkConfiguration { sdkConfiguration { sentryDsn } }");

        Assert.Equal(HttpStatusCode.OK, edge.StatusCode);
        Assert.True(graphQl.TryGetProperty("data", out _));
        Assert.Equal(20, Server.Faults.EdgeLatencyMs);
        Assert.Equal(0, Server.Counters.FaultsInjected);
        Assert.Equal(1, Server.Counters.EdgeRequests);
    }

    [Theory]
    [InlineData("""{"edgeStatus":42}""")]
    [InlineData("""{"edgeLatencyMs":-1}""")]
    [InlineData("""{"failCount":-3}""")]
    public async Task Faults_Invalid_Returns400(string body)
    {
        using var response = await AdminAsync(HttpMethod.Put, "/admin/faults", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(Server.Faults.EdgeStatus);
    }

    [Fact]
    public async Task Counters_JsonAndReset()
    {
        await EdgeStateAsync("acme");
        await GraphQlAsync("GetSdkConfiguration", "query GetSdkConfiguration { sdkConfiguration { sentryDsn } }");
        await using var socket = await ConnectAsync();

        using (var get = await AdminAsync(HttpMethod.Get, "/admin/counters"))
        {
            var counters = await JsonAsync(get);
            Assert.Equal(1, counters.GetProperty("edgeRequests").GetInt64());
            Assert.Equal(1, counters.GetProperty("edgeRequestsByCustomer").GetProperty("acme").GetInt64());
            Assert.Equal(1, counters.GetProperty("graphQlRequestsByOperation").GetProperty("GetSdkConfiguration").GetInt64());
            Assert.Equal(1, counters.GetProperty("wsConnectionsOpened").GetInt64());
            Assert.Equal(1, counters.GetProperty("wsOpenConnections").GetInt64());
        }

        using (var reset = await AdminAsync(HttpMethod.Post, "/admin/counters/reset"))
        {
            Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        }

        var after = Server.Counters;
        Assert.Equal(0, after.EdgeRequests);
        Assert.Empty(after.EdgeRequestsByCustomer);
        Assert.Equal(0, after.GraphQlRequests);
        Assert.Equal(0, after.WsConnectionsOpened);
        Assert.Equal(1, after.WsOpenConnections);
    }

    [Fact]
    public async Task Events_AreListedByAdmin()
    {
        await GraphQlAsync(
            "ReportEvent",
            "mutation ReportEvent($events: UsageEventsReportInput!) { reportEvent(events: $events) }",
            """{"events":{"usageEvents":[{"eventName":"signup","customerId":"globex","idempotencyKey":"k1","resourceId":"r1"}]}}""");

        using var response = await AdminAsync(HttpMethod.Get, "/admin/events");

        var recorded = (await JsonAsync(response))[0];
        Assert.Equal("signup", recorded.GetProperty("eventName").GetString());
        Assert.Equal("globex", recorded.GetProperty("customerId").GetString());
        Assert.Equal("r1", recorded.GetProperty("resourceId").GetString());
        Assert.Equal("k1", recorded.GetProperty("idempotencyKey").GetString());
        Assert.False(recorded.GetProperty("aggregated").GetBoolean());
    }

    [Fact]
    public async Task WaitForCounters_CompletesOnLaterChange()
    {
        var waiting = Server.WaitForCountersAsync(c => c.EdgeRequestsFor("globex") == 2, Timeout());
        Assert.False(waiting.IsCompleted);

        await EdgeStateAsync("globex");
        await EdgeStateAsync("globex");

        Assert.Equal(2, (await waiting).EdgeRequestsFor("globex"));
    }

    [Fact]
    public async Task Faults_LatencyRequestInFlight_IsAbandonedWhenServerStops()
    {
        Server.SetFaults(new EmulatorFaults { EdgeLatencyMs = 600_000 });
        var pending = EdgeAsync("/v1/c/acme/entitlements-state.json");
        await Server.WaitForCountersAsync(c => c.EdgeRequests == 1, Timeout());

        await Server.DisposeAsync();

        await Assert.ThrowsAsync<HttpRequestException>(() => pending);
    }

    [Fact]
    public async Task PutCustomer_EncodedIds_AreStoredDecoded()
    {
        var body = JsonSerializer.Serialize(EntitlementStates.OneBoolean("feature-sso"), CoreJsonContext.Default.EntitlementsStateDto);

        using var put = await AdminAsync(HttpMethod.Put, "/admin/customers/org%2Fteam%201?resourceId=a%2Bb", body);

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.NotNull(Server.GetCustomer("org/team 1", "a+b"));
        Assert.Equal(0, Server.GetCustomer("org/team 1", "a+b")!.EntitlementsV2[0].CurrentUsage);
    }
}
