using System.Net;
using System.Text.Json;
using Sidecar.Testing;

namespace Sidecar.Emulator.Tests;

public sealed class GraphQlTests : EmulatorTest
{
    private const string GetStateQuery =
        "query GetEntitlementsState($query: FetchEntitlementsQuery!) { entitlementsState(query: $query) { __typename accessDeniedReason entitlementsV2 { __typename } } }";

    private const string ReportEventMutation = "mutation ReportEvent($events: UsageEventsReportInput!) { reportEvent(events: $events) }";

    [Fact]
    public async Task GetEntitlementsState_SameBodyAsEdge()
    {
        using var edge = await EdgeAsync("/v1/c/acme/entitlements-state.json?resourceId=workspace-1");
        var edgeBody = await edge.Content.ReadAsStringAsync();

        using var graphQl = await GraphQlRawAsync($$$$"""{"operationName":"GetEntitlementsState","query":{{{{JsonSerializer.Serialize(GetStateQuery)}}}},"variables":{"query":{"customerId":"acme","resourceId":"workspace-1"}}}""");

        Assert.Equal(HttpStatusCode.OK, graphQl.StatusCode);
        Assert.Equal(edgeBody, await graphQl.Content.ReadAsStringAsync());
        Assert.Equal(1, Server.Counters.GraphQlRequestsFor("GetEntitlementsState"));
    }

    [Fact]
    public async Task GetEntitlementsState_UnknownCustomer_ReturnsCustomerNotFound()
    {
        var root = await GraphQlAsync("GetEntitlementsState", GetStateQuery, """{"query":{"customerId":"nobody"}}""");

        Assert.Equal("CustomerNotFound", root.GetProperty("data").GetProperty("entitlementsState").GetProperty("accessDeniedReason").GetString());
    }

    [Fact]
    public async Task Request_BadApiKey_Returns401Unauthenticated()
    {
        using var response = await GraphQlRawAsync("""{"operationName":"GetSdkConfiguration","query":"query GetSdkConfiguration { sdkConfiguration { sentryDsn } }"}""", "nope");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var root = await JsonAsync(response);
        Assert.Equal("Unauthenticated", root.GetProperty("errors")[0].GetProperty("extensions").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Request_UnknownOperation_ReturnsGraphQlErrors()
    {
        var root = await GraphQlAsync("GetPaywall", "query GetPaywall { paywall { plans { id } } }");

        Assert.Equal(JsonValueKind.Null, root.GetProperty("data").ValueKind);
        var error = root.GetProperty("errors")[0];
        Assert.Contains("GetPaywall", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("GRAPHQL_VALIDATION_FAILED", error.GetProperty("extensions").GetProperty("code").GetString());
        Assert.Equal(1, Server.Counters.GraphQlRequestsFor("unknown"));
    }

    [Fact]
    public async Task Request_NotJson_Returns400()
    {
        using var response = await GraphQlRawAsync("{not json");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Request_WithoutOperationName_ResolvesByRootField()
    {
        var root = await GraphQlAsync(null, "{ sdkConfiguration { sentryDsn isWidgetWatermarkEnabled } }");

        Assert.Equal("SdkConfiguration", root.GetProperty("data").GetProperty("sdkConfiguration").GetProperty("__typename").GetString());
        Assert.Equal(1, Server.Counters.GraphQlRequestsFor("GetSdkConfiguration"));
    }

    [Fact]
    public async Task ReportUsage_Delta_ReturnsAbsoluteUsageAndPeriod()
    {
        Clock.SetUtcNow(new DateTimeOffset(2026, 11, 22, 13, 0, 0, TimeSpan.Zero));

        var root = await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-api-calls","value":10,"dimensions":{"region":"eu"}}""");

        var usage = root.GetProperty("data").GetProperty("reportUsage");
        Assert.False(string.IsNullOrEmpty(usage.GetProperty("id").GetString()));
        Assert.Equal("feature-api-calls", usage.GetProperty("featureId").GetString());
        Assert.Equal("acme", usage.GetProperty("customerId").GetString());
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("resourceId").ValueKind);
        Assert.Equal(260, usage.GetProperty("currentUsage").GetDouble());
        Assert.Equal("2026-11-01T00:00:00.000Z", usage.GetProperty("usagePeriodStart").GetString());
        Assert.Equal("2026-12-01T00:00:00.000Z", usage.GetProperty("usagePeriodEnd").GetString());
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), usage.GetProperty("nextResetDate").GetInt64());
        Assert.Equal("2026-11-22T13:00:00.000Z", usage.GetProperty("timestamp").GetString());
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("credit").ValueKind);
    }

    [Fact]
    public async Task ReportUsage_DeltaThenSet_SetReplacesUsage()
    {
        var delta = await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-storage-gb","value":8,"updateBehavior":"DELTA"}""");
        var set = await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-storage-gb","value":3,"updateBehavior":"SET"}""");
        var negative = await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-storage-gb","value":-1}""");

        Assert.Equal(50, delta.GetProperty("data").GetProperty("reportUsage").GetProperty("currentUsage").GetDouble());
        Assert.Equal(3, set.GetProperty("data").GetProperty("reportUsage").GetProperty("currentUsage").GetDouble());
        Assert.Equal(2, negative.GetProperty("data").GetProperty("reportUsage").GetProperty("currentUsage").GetDouble());
        Assert.Equal(2, Server.GetCustomer("acme")!.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-storage-gb").CurrentUsage);
    }

    [Fact]
    public async Task ReportUsage_ResourceScoped_ChangesOnlyThatResource()
    {
        var root = await ReportUsageAsync("""{"customerId":"acme","resourceId":"workspace-1","featureId":"feature-api-calls","value":1}""");

        Assert.Equal(11, root.GetProperty("data").GetProperty("reportUsage").GetProperty("currentUsage").GetDouble());
        Assert.Equal("workspace-1", root.GetProperty("data").GetProperty("reportUsage").GetProperty("resourceId").GetString());
        Assert.Equal(250, Server.GetCustomer("acme")!.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-api-calls").CurrentUsage);
    }

    [Fact]
    public async Task ReportUsage_SameTimestamp_StampsStrictlyIncreasingUsageTimes()
    {
        var first = await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-api-calls","value":1}""");
        var second = await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-api-calls","value":1}""");

        var t1 = DateTimeOffset.Parse(first.GetProperty("data").GetProperty("reportUsage").GetProperty("timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var t2 = DateTimeOffset.Parse(second.GetProperty("data").GetProperty("reportUsage").GetProperty("timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(t2 > t1, $"{t2:o} should be after {t1:o} even though the clock did not move");
    }

    [Theory]
    [InlineData("""{"customerId":"nobody","featureId":"feature-api-calls","value":1}""", "CustomerNotFound")]
    [InlineData("""{"customerId":"acme","featureId":"feature-nope","value":1}""", "FeatureNotFound")]
    [InlineData("""{"customerId":"acme","resourceId":"ws-404","featureId":"feature-api-calls","value":1}""", "CustomerResourceNotFound")]
    [InlineData("""{"customerId":"acme","featureId":"feature-sso","value":1}""", "BAD_USER_INPUT")]
    [InlineData("""{"customerId":"acme","featureId":"feature-api-calls","value":1,"updateBehavior":"MULTIPLY"}""", "BAD_USER_INPUT")]
    [InlineData("""{"customerId":"acme","featureId":"feature-api-calls"}""", "BAD_USER_INPUT")]
    public async Task ReportUsage_Rejected_ReturnsGraphQlErrorAndChangesNothing(string input, string code)
    {
        var root = await ReportUsageAsync(input);

        Assert.Equal(JsonValueKind.Null, root.GetProperty("data").ValueKind);
        var error = root.GetProperty("errors")[0];
        Assert.Equal(code, error.GetProperty("extensions").GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal("reportUsage", error.GetProperty("path")[0].GetString());
        Assert.Equal(0, Server.Counters.UsageChanges);
    }

    [Fact]
    public async Task ReportUsage_RepeatedIdempotencyKey_ReturnsOriginalWithoutApplyingTwice()
    {
        const string input = """{"customerId":"acme","featureId":"feature-api-calls","value":7,"idempotencyKey":"req-1"}""";

        var first = await ReportUsageAsync(input);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var second = await ReportUsageAsync(input);

        Assert.Equal(first.GetRawText(), second.GetRawText());
        Assert.Equal(257, second.GetProperty("data").GetProperty("reportUsage").GetProperty("currentUsage").GetDouble());
        Assert.Equal(257, Server.GetCustomer("acme")!.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-api-calls").CurrentUsage);
        Assert.Equal(1, Server.Counters.UsageChanges);
    }

    [Fact]
    public async Task ReportUsage_CreditBackedFeature_ConsumesValueTimesRateCredits()
    {
        Clock.SetUtcNow(new DateTimeOffset(2026, 11, 22, 14, 0, 0, TimeSpan.Zero));

        var root = await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-ai-summaries","value":3}""");

        var usage = root.GetProperty("data").GetProperty("reportUsage");
        Assert.Equal(3, usage.GetProperty("currentUsage").GetDouble());
        var credit = usage.GetProperty("credit");
        Assert.Equal("ai-credits", credit.GetProperty("currencyId").GetString());
        Assert.Equal(1206, credit.GetProperty("currentUsage").GetDouble());
        Assert.Equal("2026-11-22T14:00:00.000Z", credit.GetProperty("timestamp").GetString());
        Assert.Equal("2026-12-01T00:00:00.000Z", credit.GetProperty("usagePeriodEnd").GetString());

        var list = (await EdgeStateAsync("acme")).GetProperty("data").GetProperty("entitlementsState").GetProperty("entitlementsV2");
        Assert.Equal(1206, CreditIn(list, "ai-credits").GetProperty("currentUsage").GetDouble());
        Assert.Equal(2, Server.Counters.UsageChanges);
    }

    [Fact]
    public async Task ReportUsageBulk_AppliesItemsInOrder()
    {
        var root = await GraphQlAsync(
            "ReportUsageBulk",
            "mutation ReportUsageBulk($input: ReportUsageBulkInput!) { reportUsageBulk(input: $input) { id currentUsage } }",
            """
            {"input":{"usages":[
              {"customerId":"acme","featureId":"feature-api-calls","value":1},
              {"customerId":"acme","featureId":"feature-api-calls","value":2},
              {"customerId":"globex","featureId":"feature-api-calls","value":40,"updateBehavior":"SET"}
            ]}}
            """);

        var items = root.GetProperty("data").GetProperty("reportUsageBulk");
        Assert.Equal([251.0, 253.0, 40.0], items.EnumerateArray().Select(i => i.GetProperty("currentUsage").GetDouble()));
        Assert.Equal("globex", items[2].GetProperty("customerId").GetString());
    }

    [Fact]
    public async Task ReportUsageBulk_OneInvalidItem_AppliesNothing()
    {
        var root = await GraphQlAsync(
            "ReportUsageBulk",
            "mutation ReportUsageBulk($input: ReportUsageBulkInput!) { reportUsageBulk(input: $input) { id currentUsage } }",
            """{"input":{"usages":[{"customerId":"acme","featureId":"feature-api-calls","value":1},{"customerId":"nobody","featureId":"feature-api-calls","value":1}]}}""");

        Assert.Equal("CustomerNotFound", root.GetProperty("errors")[0].GetProperty("extensions").GetProperty("code").GetString());
        Assert.Equal(250, Server.GetCustomer("acme")!.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-api-calls").CurrentUsage);
    }

    [Fact]
    public async Task ReportEvent_RecordsEventsIdempotentlyAndAggregatesMeteredNames()
    {
        const string variables = """
            {"events":{"usageEvents":[
              {"eventName":"feature-api-calls","customerId":"acme","idempotencyKey":"e-1","dimensions":{"route":"/x"},"timestamp":"2026-11-22T11:59:00.000Z"},
              {"eventName":"page-view","customerId":"acme","idempotencyKey":"e-2"},
              {"eventName":"feature-api-calls","customerId":"acme","idempotencyKey":"e-1"}
            ]}}
            """;

        var root = await GraphQlAsync("ReportEvent", ReportEventMutation, variables);
        var again = await GraphQlAsync("ReportEvent", ReportEventMutation, variables);

        Assert.Equal(JsonValueKind.Null, root.GetProperty("data").GetProperty("reportEvent").ValueKind);
        Assert.False(again.TryGetProperty("errors", out _));
        var events = Server.Events;
        Assert.Equal(["feature-api-calls", "page-view"], events.Select(e => e.EventName));
        Assert.True(events[0].Aggregated);
        Assert.False(events[1].Aggregated);
        Assert.Equal("/x", events[0].Dimensions!.Value.GetProperty("route").GetString());
        Assert.Equal("2026-11-22T11:59:00.000Z", events[0].Timestamp);
        Assert.Equal(2, Server.Counters.EventsRecorded);
        Assert.Equal(251, Server.GetCustomer("acme")!.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-api-calls").CurrentUsage);
    }

    [Fact]
    public async Task ReportEvent_MissingIdempotencyKey_ReturnsError()
    {
        var root = await GraphQlAsync("ReportEvent", ReportEventMutation, """{"events":{"usageEvents":[{"eventName":"x","customerId":"acme"}]}}""");

        Assert.Equal("BAD_USER_INPUT", root.GetProperty("errors")[0].GetProperty("extensions").GetProperty("code").GetString());
        Assert.Empty(Server.Events);
    }

    [Fact]
    public async Task GetSdkConfiguration_ReturnsConfig()
    {
        var root = await GraphQlAsync("GetSdkConfiguration", "query GetSdkConfiguration { sdkConfiguration { sentryDsn isWidgetWatermarkEnabled } }");

        var config = root.GetProperty("data").GetProperty("sdkConfiguration");
        Assert.False(config.GetProperty("isWidgetWatermarkEnabled").GetBoolean());
    }

    [Fact]
    public async Task ReportUsage_Concurrent_AppliesEveryDeltaWithDistinctTimestamps()
    {
        var reports = Enumerable.Range(0, 40)
            .Select(_ => ReportUsageAsync("""{"customerId":"globex","featureId":"feature-api-calls","value":1}"""))
            .ToArray();

        var results = await Task.WhenAll(reports);

        var usages = results.Select(r => r.GetProperty("data").GetProperty("reportUsage").GetProperty("currentUsage").GetDouble()).Order().ToList();
        Assert.Equal(Enumerable.Range(101, 40).Select(i => (double)i), usages);
        var stamps = results.Select(r => r.GetProperty("data").GetProperty("reportUsage").GetProperty("timestamp").GetString()).Distinct().Count();
        Assert.Equal(40, stamps);
    }
}
