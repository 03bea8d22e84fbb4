using Grpc.Core;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>All read RPCs over a real gRPC channel against the sample entitlements file.</summary>
public sealed class SampleFileRpcTests(SampleFileSidecar fixture) : IClassFixture<SampleFileSidecar>
{
    private SidecarService.SidecarServiceClient Client => fixture.Host.Client;

    [Fact]
    public async Task GetBooleanEntitlement_GrantedFeature_HasAccess()
    {
        var response = await Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });

        Assert.True(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.False(response.HasAccessDeniedReason);
        Assert.Equal("feature-sso", response.Entitlement.Feature.Id);
        Assert.Equal(FeatureType.Boolean, response.Entitlement.Feature.FeatureType);
    }

    [Fact]
    public async Task GetBooleanEntitlement_RevokedFeature_DeniedWithServerReason()
    {
        var response = await Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "initech", FeatureId = "feature-beta-lab" });

        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.Revoked, response.AccessDeniedReason);
        Assert.False(response.IsFallback);
    }

    [Fact]
    public async Task GetBooleanEntitlement_FeatureNotInPlan_DeniedNotFallback()
    {
        var response = await Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "globex", FeatureId = "feature-sso" });

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(AccessDeniedReason.NoFeatureEntitlementInSubscription, response.AccessDeniedReason);
    }

    [Theory]
    [InlineData("nobody-at-all", AccessDeniedReason.CustomerNotFound)]
    [InlineData("umbrella", AccessDeniedReason.NoActiveSubscription)]
    [InlineData("hooli", AccessDeniedReason.CustomerIsArchived)]
    public async Task GetBooleanEntitlement_CustomerLevelReason_DeniedWithThatReason(string customer, AccessDeniedReason reason)
    {
        var response = await Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = customer, FeatureId = "feature-sso" });

        Assert.False(response.HasAccess);
        Assert.False(response.IsFallback);
        Assert.Equal(reason, response.AccessDeniedReason);
    }

    [Fact]
    public async Task GetNumericEntitlement_ConfigFeature_ReturnsValue()
    {
        var response = await Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" });

        Assert.True(response.HasAccess);
        Assert.Equal(25, response.Entitlement.Value);
        Assert.False(response.Entitlement.IsUnlimited);
        Assert.Equal("seats", response.Entitlement.Feature.UnitsPlural);
    }

    [Fact]
    public async Task GetNumericEntitlement_Unlimited_ReportsUnlimited()
    {
        var response = await Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "initech", FeatureId = "feature-seats" });

        Assert.True(response.HasAccess);
        Assert.True(response.Entitlement.IsUnlimited);
    }

    [Fact]
    public async Task GetMeteredEntitlement_WithinLimit_ReturnsUsageAndPeriod()
    {
        var response = await Client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 10 },
        });

        Assert.True(response.HasAccess);
        Assert.Equal(10, response.RequestedUsage);
        Assert.Equal(1000, response.Entitlement.UsageLimit);
        Assert.Equal(250, response.Entitlement.CurrentUsage);
        Assert.Equal(EntitlementResetPeriod.Month, response.Entitlement.ResetPeriod);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), response.Entitlement.UsagePeriodEnd.ToDateTimeOffset());
        Assert.True(response.Entitlement.Feature.IsMetered);
    }

    [Fact]
    public async Task GetMeteredEntitlement_RequestedUsageOverLimit_Denied()
    {
        var response = await Client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 751 },
        });

        Assert.False(response.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, response.AccessDeniedReason);
    }

    [Fact]
    public async Task GetMeteredEntitlement_SoftLimit_AllowsOverLimit()
    {
        var response = await Client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-storage-gb",
            Options = new MeteredEntitlementOptions { RequestedUsage = 500 },
        });

        Assert.True(response.HasAccess);
        Assert.True(response.Entitlement.HasSoftLimit);
    }

    [Fact]
    public async Task GetMeteredEntitlement_ResourceScoped_UsesResourceEntry()
    {
        var response = await Client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest
        {
            CustomerId = "acme",
            ResourceId = "workspace-1",
            FeatureId = "feature-api-calls",
        });

        Assert.True(response.HasAccess);
        Assert.Equal(50, response.Entitlement.UsageLimit);
        Assert.Equal(10, response.Entitlement.CurrentUsage);
    }

    [Fact]
    public async Task GetEnumEntitlement_RequestedValueNotAllowed_Denied()
    {
        var allowed = await Client.GetEnumEntitlementAsync(new GetEnumEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-region",
            Options = new EnumEntitlementOptions { RequestedValues = { "eu-west-1" } },
        });
        var denied = await Client.GetEnumEntitlementAsync(new GetEnumEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-region",
            Options = new EnumEntitlementOptions { RequestedValues = { "ap-south-1" } },
        });

        Assert.True(allowed.HasAccess);
        Assert.Equal(["us-east-1", "eu-west-1"], allowed.Entitlement.EnumValues);
        Assert.False(denied.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedValuesMismatch, denied.AccessDeniedReason);
        Assert.Equal(["ap-south-1"], denied.RequestedValues);
    }

    [Fact]
    public async Task GetBooleanEntitlement_OnMeteredFeature_FallbackWithTypeMismatch()
    {
        var response = await Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Options = new BooleanEntitlementOptions { Fallback = new BooleanEntitlementFallback { HasAccess = true } },
        });

        Assert.True(response.IsFallback);
        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.FeatureTypeMismatch, response.AccessDeniedReason);
    }

    [Fact]
    public async Task GetEntitlement_MeteredFeature_ReturnsMeteredOneof()
    {
        var response = await Client.GetEntitlementAsync(new GetEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Options = new GetEntitlementOptions { RequestedUsage = 1 },
        });

        Assert.True(response.HasAccess);
        Assert.Equal(GetEntitlementResponse.EntitlementOneofCase.Metered, response.EntitlementCase);
        Assert.Equal(250, response.Metered.CurrentUsage);
    }

    [Fact]
    public async Task GetEntitlementV2_Credit_ReturnsRemaining()
    {
        var response = await Client.GetEntitlementV2Async(new GetEntitlementV2Request { CustomerId = "acme", CurrencyId = "ai-credits" });

        Assert.True(response.Entitlement.HasAccess);
        Assert.Equal(EntitlementV2.EntitlementOneofCase.Credit, response.Entitlement.EntitlementCase);
        Assert.Equal(3800, response.Entitlement.Credit.Remaining);
        Assert.Equal("ai-credits", response.Entitlement.Credit.Currency.CurrencyId);
    }

    [Fact]
    public async Task GetEntitlementV2_ExhaustedCredit_DeniedInsufficientCredits()
    {
        var response = await Client.GetEntitlementV2Async(new GetEntitlementV2Request { CustomerId = "initech", CurrencyId = "ai-credits" });

        Assert.False(response.Entitlement.HasAccess);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, response.Entitlement.AccessDeniedReason);
    }

    [Fact]
    public async Task GetEntitlements_ListsEveryFeatureEntitlement()
    {
        var response = await Client.GetEntitlementsAsync(new GetEntitlementsRequest { CustomerId = "acme" });

        Assert.Equal(6, response.Entitlements.Count);
        Assert.Contains(response.Entitlements, e => e.EntitlementCase == Entitlement.EntitlementOneofCase.Enum && e.Enum.Feature.Id == "feature-region");
    }

    [Fact]
    public async Task GetEntitlementsStateV2_ListsFeaturesAndCredits()
    {
        var response = await Client.GetEntitlementsStateV2Async(new GetEntitlementsStateV2Request { CustomerId = "acme" });

        Assert.Equal(7, response.Entitlements.Count);
        Assert.Single(response.Entitlements, e => e.EntitlementCase == EntitlementV2.EntitlementOneofCase.Credit);
        Assert.All(response.Entitlements, e => Assert.False(e.IsFallback));
        Assert.False(response.HasAccessDeniedReason);
    }

    [Fact]
    public async Task GetEntitlementsStateV2_ArchivedCustomer_TopLevelReason()
    {
        var response = await Client.GetEntitlementsStateV2Async(new GetEntitlementsStateV2Request { CustomerId = "hooli" });

        Assert.Empty(response.Entitlements);
        Assert.Equal(AccessDeniedReason.CustomerIsArchived, response.AccessDeniedReason);
    }

    [Theory]
    [InlineData("acme", true)]
    [InlineData("umbrella", true)]
    [InlineData("hooli", false)]
    [InlineData("nobody-at-all", false)]
    public async Task ReloadEntitlements_AnswersWhetherTheEntityExists(string customer, bool exists)
    {
        var response = await Client.ReloadEntitlementsAsync(new ReloadEntitlementsRequest { CustomerId = customer });

        Assert.Equal(exists, response.EntitledEntityExists);
    }

    [Fact]
    public async Task ReportEvents_FileMode_Acknowledged()
    {
        var response = await Client.ReportEventsAsync(new ReportEventsRequest
        {
            Events = { new Event { EventName = "page-view", CustomerId = "acme", IdempotencyKey = "k-1" } },
        });

        Assert.NotNull(response);
    }

    [Fact]
    public async Task Health_StandardGrpcHealthService_Serving()
    {
        var health = new Grpc.Health.V1.Health.HealthClient(fixture.Host.Channel);

        var overall = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        var service = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = "stigg.sidecar.v1.SidecarService" });

        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, overall.Status);
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, service.Status);
    }

    [Fact]
    public async Task Endpoints_NotServedOnTheGrpcPort()
    {
        using var http = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = System.Net.HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var response = await http.GetAsync(new Uri($"http://127.0.0.1:{fixture.Host.Settings.Server.GrpcPort}/metrics"));

        Assert.NotEqual(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
