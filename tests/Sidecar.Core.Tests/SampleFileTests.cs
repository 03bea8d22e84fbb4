using System.Text.Json;
using Sidecar.Core.Evaluation;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

/// <summary>samples/entitlements.json parsed, mapped and evaluated end to end.</summary>
public class SampleFileTests
{
    private static readonly EntitlementsFile Sample = EntitlementStates.SampleFile();

    private static CustomerSnapshot Customer(string customerId, string? resourceId = null)
    {
        var entry = Sample.Customers.Single(c => c.CustomerId == customerId && c.ResourceId == resourceId);
        return EntitlementsStateMapper.ToSnapshot(new CustomerKey(customerId, resourceId), entry.EntitlementsState!, Now);
    }

    [Fact]
    public void Sample_ParsesEveryCustomer()
    {
        Assert.Equal(
            ["acme", "acme:workspace-1", "globex", "initech", "umbrella", "hooli"],
            Sample.Customers.Select(c => c.ResourceId is null ? c.CustomerId : $"{c.CustomerId}:{c.ResourceId}"));

        var acme = Customer("acme");
        Assert.Equal(6, acme.Features.Count);
        Assert.Single(acme.Credits);
        Assert.Equal(Ms("2026-11-01T10:00:00Z"), acme.EntitlementsTimestamp);
    }

    [Fact]
    public void Mapper_RoundTripThroughJson_PreservesSnapshot()
    {
        foreach (var entry in Sample.Customers)
        {
            var key = new CustomerKey(entry.CustomerId!, entry.ResourceId);
            var original = EntitlementsStateMapper.ToSnapshot(key, entry.EntitlementsState!, Now);

            var json = JsonSerializer.Serialize(EntitlementsStateMapper.ToState(original), CoreJsonContext.Default.EntitlementsStateDto);
            var reparsed = EntitlementsStateMapper.ToSnapshot(key, JsonSerializer.Deserialize(json, CoreJsonContext.Default.EntitlementsStateDto)!, Now);

            Assert.Equal(original.CustomerReason, reparsed.CustomerReason);
            Assert.Equal(original.EntitlementsTimestamp, reparsed.EntitlementsTimestamp);
            Assert.Equal(original.Features.Count, reparsed.Features.Count);
            for (var i = 0; i < original.Features.Count; i++)
            {
                Assert.Equal(original.Features[i] with { EnumValues = [] }, reparsed.Features[i] with { EnumValues = [] });
                Assert.Equal(original.Features[i].EnumValues, reparsed.Features[i].EnumValues);
            }

            Assert.Equal(original.Credits, reparsed.Credits);
        }
    }

    [Fact]
    public void Acme_EveryFeatureType_Allowed()
    {
        var acme = Customer("acme");

        var sso = EntitlementEvaluator.Boolean(acme, new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" }, FallbackSet.Empty, Now);
        var seats = EntitlementEvaluator.Numeric(acme, new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" }, FallbackSet.Empty, Now);
        var api = EntitlementEvaluator.Metered(acme, new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" }, FallbackSet.Empty, Now);
        var storage = EntitlementEvaluator.Metered(
            acme,
            new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-storage-gb", Options = new MeteredEntitlementOptions { RequestedUsage = 500 } },
            FallbackSet.Empty,
            Now);
        var region = EntitlementEvaluator.Enum(
            acme,
            new GetEnumEntitlementRequest { CustomerId = "acme", FeatureId = "feature-region", Options = new EnumEntitlementOptions { RequestedValues = { "eu-west-1" } } },
            FallbackSet.Empty,
            Now);
        var summaries = EntitlementEvaluator.Boolean(acme, new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-ai-summaries" }, FallbackSet.Empty, Now);

        Assert.True(sso.HasAccess);
        Assert.Equal(25, seats.Entitlement.Value);
        Assert.True(api.HasAccess);
        Assert.Equal(250, api.Entitlement.CurrentUsage);
        Assert.Equal(1000, api.Entitlement.UsageLimit);
        Assert.Equal(Ts("2026-12-01T00:00:00Z"), api.Entitlement.UsagePeriodEnd);
        Assert.True(storage.HasAccess); // soft limit
        Assert.True(region.HasAccess);
        Assert.True(summaries.HasAccess); // credit-backed, 3800 credits left
    }

    [Fact]
    public void Acme_Credit_RemainingFromGrant()
    {
        var e = EntitlementEvaluator.EntitlementV2(
            Customer("acme"), new GetEntitlementV2Request { CustomerId = "acme", CurrencyId = "ai-credits" }, FallbackSet.Empty, Now).Entitlement;

        Assert.True(e.HasAccess);
        Assert.Equal(3800, e.Credit.Remaining);
        Assert.Equal("AI credits", e.Credit.Currency.DisplayName);
    }

    [Fact]
    public void AcmeWorkspace_ResourceEntryHasItsOwnUsage()
    {
        var response = EntitlementEvaluator.Metered(
            Customer("acme", "workspace-1"),
            new GetMeteredEntitlementRequest { CustomerId = "acme", ResourceId = "workspace-1", FeatureId = "feature-api-calls", Options = new MeteredEntitlementOptions { RequestedUsage = 41 } },
            FallbackSet.Empty,
            Now);

        Assert.False(response.HasAccess);
        Assert.Equal(10, response.Entitlement.CurrentUsage);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, response.AccessDeniedReason);
    }

    [Fact]
    public void Globex_AtLimit_AllowedOnlyWithoutRequestedUsage()
    {
        var globex = Customer("globex");
        var request = new GetMeteredEntitlementRequest { CustomerId = "globex", FeatureId = "feature-api-calls" };

        Assert.True(EntitlementEvaluator.Metered(globex, request, FallbackSet.Empty, Now).HasAccess);
        request.Options = new MeteredEntitlementOptions { RequestedUsage = 1 };
        Assert.False(EntitlementEvaluator.Metered(globex, request, FallbackSet.Empty, Now).HasAccess);
    }

    [Fact]
    public void Globex_DailyReports_RollOverAfterPeriodEnd()
    {
        var globex = Customer("globex");
        var request = new GetMeteredEntitlementRequest
        {
            CustomerId = "globex",
            FeatureId = "feature-reports",
            Options = new MeteredEntitlementOptions { RequestedUsage = 1 },
        };

        var during = EntitlementEvaluator.Metered(globex, request, FallbackSet.Empty, Ms("2026-11-22T18:00:00Z"));
        var after = EntitlementEvaluator.Metered(globex, request, FallbackSet.Empty, Ms("2026-11-25T05:00:00Z"));

        Assert.False(during.HasAccess);
        Assert.Equal(10, during.Entitlement.CurrentUsage);
        Assert.True(after.HasAccess);
        Assert.Equal(0, after.Entitlement.CurrentUsage);
        Assert.Equal(Ts("2026-11-25T00:00:00Z"), after.Entitlement.UsagePeriodStart);
        Assert.Equal(Ts("2026-11-26T00:00:00Z"), after.Entitlement.UsagePeriodEnd);
    }

    [Fact]
    public void Globex_EnumOutsidePlan_Mismatch()
    {
        var response = EntitlementEvaluator.Enum(
            Customer("globex"),
            new GetEnumEntitlementRequest { CustomerId = "globex", FeatureId = "feature-region", Options = new EnumEntitlementOptions { RequestedValues = { "eu-west-1" } } },
            FallbackSet.Empty,
            Now);

        Assert.Equal(AccessDeniedReason.RequestedValuesMismatch, response.AccessDeniedReason);
    }

    [Fact]
    public void Initech_RevokedUnlimitedAndExhaustedCredits()
    {
        var initech = Customer("initech");

        var beta = EntitlementEvaluator.Boolean(initech, new GetBooleanEntitlementRequest { FeatureId = "feature-beta-lab" }, FallbackSet.Empty, Now);
        var api = EntitlementEvaluator.Metered(
            initech, new GetMeteredEntitlementRequest { FeatureId = "feature-api-calls", Options = new MeteredEntitlementOptions { RequestedUsage = 1e6 } }, FallbackSet.Empty, Now);
        var credits = EntitlementEvaluator.EntitlementV2(initech, new GetEntitlementV2Request { CurrencyId = "ai-credits" }, FallbackSet.Empty, Now).Entitlement;

        Assert.Equal(AccessDeniedReason.Revoked, beta.AccessDeniedReason);
        Assert.True(api.HasAccess);
        Assert.True(api.Entitlement.IsUnlimited);
        Assert.False(credits.HasAccess);
        Assert.Equal(AccessDeniedReason.InsufficientCredits, credits.AccessDeniedReason);
    }

    [Fact]
    public void Umbrella_NoActiveSubscription_DeniedButEntityExists()
    {
        var umbrella = Customer("umbrella");

        var response = EntitlementEvaluator.Boolean(umbrella, new GetBooleanEntitlementRequest { FeatureId = "feature-sso" }, FallbackSet.Empty, Now);

        Assert.Equal(AccessDeniedReason.NoActiveSubscription, response.AccessDeniedReason);
        Assert.False(response.IsFallback);
        Assert.True(EntitlementEvaluator.EntitledEntityExists(umbrella));
    }

    [Fact]
    public void Hooli_Archived_DeniedAndEntityDoesNotExist()
    {
        var hooli = Customer("hooli");

        var state = EntitlementEvaluator.EntitlementsStateV2(hooli, new GetEntitlementsStateV2Request { CustomerId = "hooli" }, FallbackSet.Empty, Now);

        Assert.Equal(AccessDeniedReason.CustomerIsArchived, state.AccessDeniedReason);
        Assert.Empty(state.Entitlements);
        Assert.False(EntitlementEvaluator.EntitledEntityExists(hooli));
    }

    [Fact]
    public void Acme_StateV2_ListsFeaturesAndCredit()
    {
        var state = EntitlementEvaluator.EntitlementsStateV2(Customer("acme"), new GetEntitlementsStateV2Request { CustomerId = "acme" }, FallbackSet.Empty, Now);

        Assert.Equal(7, state.Entitlements.Count);
        Assert.All(state.Entitlements, e => Assert.True(e.HasAccess));
        Assert.Equal(EntitlementV2.EntitlementOneofCase.Credit, state.Entitlements[6].EntitlementCase);
    }
}
