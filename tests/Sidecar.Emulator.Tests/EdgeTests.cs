using System.Net;
using System.Text.Json;
using Sidecar.Testing;

namespace Sidecar.Emulator.Tests;

public sealed class EdgeTests : EmulatorTest
{
    [Fact]
    public async Task Entitlements_KnownCustomer_ReturnsExactEnvelope()
    {
        using var response = await EdgeAsync("/v1/c/acme/entitlements-state.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = await JsonAsync(response);
        Assert.Equal(["data"], root.EnumerateObject().Select(p => p.Name));
        var state = root.GetProperty("data").GetProperty("entitlementsState");
        Assert.Equal(
            ["__typename", "accessDeniedReason", "entitlements", "entitlementsV2"],
            state.EnumerateObject().Select(p => p.Name));
        Assert.Equal("EntitlementsState", state.GetProperty("__typename").GetString());
        Assert.Equal(JsonValueKind.Null, state.GetProperty("accessDeniedReason").ValueKind);
        Assert.Equal(0, state.GetProperty("entitlements").GetArrayLength());

        var list = state.GetProperty("entitlementsV2");
        Assert.Equal(7, list.GetArrayLength());
        var apiCalls = FeatureIn(list, "feature-api-calls");
        Assert.Equal(1000, apiCalls.GetProperty("usageLimit").GetDouble());
        Assert.Equal(250, apiCalls.GetProperty("currentUsage").GetDouble());
        Assert.Equal("2026-12-01T00:00:00.000Z", apiCalls.GetProperty("usagePeriodEnd").GetString());
        Assert.Equal("MONTH", apiCalls.GetProperty("resetPeriod").GetString());
        Assert.Equal("SubscriptionStart", apiCalls.GetProperty("resetPeriodConfiguration").GetProperty("monthlyAccordingTo").GetString());
        Assert.Equal("Incremental", apiCalls.GetProperty("feature").GetProperty("meterType").GetString());
        Assert.False(apiCalls.TryGetProperty("currency", out _));

        var credit = CreditIn(list, "ai-credits");
        Assert.Equal(5000, credit.GetProperty("usageLimit").GetDouble());
        Assert.Equal(1200, credit.GetProperty("currentUsage").GetDouble());
        Assert.False(credit.TryGetProperty("feature", out _));

        var summaries = FeatureIn(list, "feature-ai-summaries");
        Assert.Equal(2, summaries.GetProperty("creditRate").GetProperty("amount").GetDouble());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key")]
    public async Task Entitlements_MissingOrWrongApiKey_Returns401(string? apiKey)
    {
        using var response = await EdgeAsync("/v1/c/acme/entitlements-state.json", apiKey);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(1, Server.Counters.AuthFailures);
    }

    [Fact]
    public async Task Entitlements_UnknownCustomer_Returns200WithCustomerNotFound()
    {
        var state = (await EdgeStateAsync("nobody")).GetProperty("data").GetProperty("entitlementsState");

        Assert.Equal("CustomerNotFound", state.GetProperty("accessDeniedReason").GetString());
        Assert.Equal(0, state.GetProperty("entitlementsV2").GetArrayLength());
        Assert.Equal(0, state.GetProperty("entitlements").GetArrayLength());
    }

    [Fact]
    public async Task Entitlements_CustomerLevelReason_IsServedAsInFixture()
    {
        var state = (await EdgeStateAsync("umbrella")).GetProperty("data").GetProperty("entitlementsState");

        Assert.Equal("NoActiveSubscription", state.GetProperty("accessDeniedReason").GetString());
    }

    [Fact]
    public async Task Entitlements_KnownResource_ReturnsResourceEntitlements()
    {
        var state = (await EdgeStateAsync("acme", "workspace-1")).GetProperty("data").GetProperty("entitlementsState");

        var list = state.GetProperty("entitlementsV2");
        Assert.Equal(2, list.GetArrayLength());
        Assert.Equal(50, FeatureIn(list, "feature-api-calls").GetProperty("usageLimit").GetDouble());
    }

    [Fact]
    public async Task Entitlements_UnknownResourceOfKnownCustomer_ReturnsCustomerResourceNotFound()
    {
        var state = (await EdgeStateAsync("acme", "workspace-404")).GetProperty("data").GetProperty("entitlementsState");

        Assert.Equal("CustomerResourceNotFound", state.GetProperty("accessDeniedReason").GetString());
        Assert.Equal(0, state.GetProperty("entitlementsV2").GetArrayLength());
    }

    [Fact]
    public async Task Entitlements_UnknownResourceOfUnknownCustomer_ReturnsCustomerNotFound()
    {
        var state = (await EdgeStateAsync("nobody", "workspace-1")).GetProperty("data").GetProperty("entitlementsState");

        Assert.Equal("CustomerNotFound", state.GetProperty("accessDeniedReason").GetString());
    }

    [Fact]
    public async Task Entitlements_PercentEncodedIds_AreDecodedOnce()
    {
        const string customer = "team/a b+c%41";
        const string resource = "ws/1 +x";
        Server.SetCustomer(customer, resource, EntitlementStates.OneBoolean("feature-sso"));

        var state = (await EdgeStateAsync(customer, resource)).GetProperty("data").GetProperty("entitlementsState");

        Assert.Equal(JsonValueKind.Null, state.GetProperty("accessDeniedReason").ValueKind);
        Assert.Equal(1, state.GetProperty("entitlementsV2").GetArrayLength());
        Assert.Equal(1, Server.Counters.EdgeRequestsFor(customer));
    }

    [Fact]
    public async Task Entitlements_AfterUsageReport_ServeCurrentUsage()
    {
        Clock.SetUtcNow(new DateTimeOffset(2026, 11, 22, 12, 30, 0, TimeSpan.Zero));
        await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-api-calls","value":5}""");

        var list = (await EdgeStateAsync("acme")).GetProperty("data").GetProperty("entitlementsState").GetProperty("entitlementsV2");

        var apiCalls = FeatureIn(list, "feature-api-calls");
        Assert.Equal(255, apiCalls.GetProperty("currentUsage").GetDouble());
        Assert.Equal("2026-11-22T12:30:00.000Z", apiCalls.GetProperty("usageUpdatedAt").GetString());
    }

    [Fact]
    public async Task Entitlements_EndedUsagePeriod_IsRolledOverWithUsageReset()
    {
        // globex's daily feature-reports period is 2026-11-22..23 with usage 10; a day later a new period starts.
        Clock.SetUtcNow(new DateTimeOffset(2026, 11, 23, 5, 0, 0, TimeSpan.Zero));

        var list = (await EdgeStateAsync("globex")).GetProperty("data").GetProperty("entitlementsState").GetProperty("entitlementsV2");

        var reports = FeatureIn(list, "feature-reports");
        Assert.Equal(0, reports.GetProperty("currentUsage").GetDouble());
        Assert.Equal("2026-11-23T00:00:00.000Z", reports.GetProperty("usagePeriodStart").GetString());
        Assert.Equal("2026-11-24T00:00:00.000Z", reports.GetProperty("usagePeriodEnd").GetString());
        Assert.Equal(100, FeatureIn(list, "feature-api-calls").GetProperty("currentUsage").GetDouble());
    }

    [Fact]
    public async Task SdkConfiguration_ValidKey_Returns200()
    {
        using var response = await EdgeAsync("/v1/config/server-sdk-configuration.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var root = await JsonAsync(response);
        Assert.Equal("SdkConfiguration", root.GetProperty("data").GetProperty("sdkConfiguration").GetProperty("__typename").GetString());
        Assert.Equal(1, Server.Counters.SdkConfigurationRequests);
    }

    [Fact]
    public async Task SdkConfiguration_BadKey_Returns401()
    {
        using var response = await EdgeAsync("/v1/config/server-sdk-configuration.json", "nope");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Counters_EdgeRequests_AreCountedTotalAndPerCustomer()
    {
        await EdgeStateAsync("acme");
        await EdgeStateAsync("acme", "workspace-1");
        await EdgeStateAsync("globex");
        using (await EdgeAsync("/v1/c/globex/entitlements-state.json", "bad"))
        {
        }

        var counters = Server.Counters;
        Assert.Equal(4, counters.EdgeRequests);
        Assert.Equal(2, counters.EdgeRequestsFor("acme"));
        Assert.Equal(2, counters.EdgeRequestsFor("globex"));
        Assert.Equal(0, counters.EdgeRequestsFor("initech"));
    }
}
