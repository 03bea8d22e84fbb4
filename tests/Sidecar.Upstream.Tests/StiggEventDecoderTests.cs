using Microsoft.Extensions.Time.Testing;
using System.Text.Json;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

/// <summary>Stigg's subscription payloads (§3.2–3.5) decoded from JSON alone: no socket, a stopped clock.</summary>
public sealed class StiggEventDecoderTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000);
    private static readonly long NowMs = Now.ToUnixTimeMilliseconds();
    private readonly CapturingLogger _logger = new();

    [Fact]
    public void Decode_EntitlementsUpdated_IsASnapshotVersionedByTheDataAndStampedByTheClock()
    {
        var e = Decode(StiggEventDecoder.EntitlementsId, """
            {"data":{"entitlementsUpdatedV2":{"customerId":"acme","resourceId":"ws-1","accessDeniedReason":null,"entitlements":[
              {"__typename":"FeatureEntitlement","isGranted":true,"usageLimit":100,"currentUsage":7,
               "entitlementUpdatedAt":"2026-11-01T10:00:00.000Z",
               "feature":{"refId":"feature-api-calls","featureType":"NUMBER","meterType":"Incremental"}},
              {"__typename":"CreditEntitlement","isGranted":true,"usageLimit":50,"currentUsage":5,
               "currency":{"currencyId":"ai-credits"}}]}}}
            """);

        var snapshot = Assert.IsType<EntitlementsUpdatedEvent>(e).Snapshot;
        Assert.Equal(new CustomerKey("acme", "ws-1"), snapshot.Key);
        Assert.Null(snapshot.CustomerReason);
        var feature = Assert.Single(snapshot.Features);
        Assert.Equal("feature-api-calls", feature.FeatureId);
        Assert.Equal(100, feature.UsageLimit);
        Assert.Equal(7, feature.CurrentUsage);
        Assert.Equal("ai-credits", Assert.Single(snapshot.Credits).CurrencyId);
        Assert.Equal(DateTimeOffset.Parse("2026-11-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), snapshot.EntitlementsTimestamp);
        Assert.Equal(NowMs, snapshot.FetchedAt);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("null")]
    public void Decode_EntitlementsEmptyWithoutReason_IsARemoval(string entitlements)
    {
        var e = Decode(StiggEventDecoder.EntitlementsId, """
            {"data":{"entitlementsUpdatedV2":{"customerId":"acme","resourceId":"","accessDeniedReason":null,"entitlements":LIST}}}
            """.Replace("LIST", entitlements, StringComparison.Ordinal));

        Assert.Equal(new CustomerKey("acme", null), Assert.IsType<EntitlementsRemovedEvent>(e).Key);
    }

    [Fact]
    public void Decode_EntitlementsEmptyWithAReason_IsAnUpdateCarryingTheReason()
    {
        var e = Decode(StiggEventDecoder.EntitlementsId, """
            {"data":{"entitlementsUpdatedV2":{"customerId":"gone","accessDeniedReason":"CustomerNotFound","entitlements":[]}}}
            """);

        var snapshot = Assert.IsType<EntitlementsUpdatedEvent>(e).Snapshot;
        Assert.Equal(AccessDeniedReason.CustomerNotFound, snapshot.CustomerReason);
        Assert.Empty(snapshot.Features);

        // An empty list is version 0: it always wins the timestamp guard (§3.3).
        Assert.Equal(0, snapshot.EntitlementsTimestamp);
    }

    [Fact]
    public void Decode_EntitlementsWithGraphQlErrors_IsIgnoredAndLogged()
    {
        var e = Decode(StiggEventDecoder.EntitlementsId, """{"errors":[{"message":"boom"}],"data":null}""");

        Assert.Null(e);
        Assert.True(_logger.Contains("boom"));
    }

    [Fact]
    public void Decode_FeatureUsageUpdated_IsAnAbsoluteUsageWithItsOwnTimestamp()
    {
        var e = Decode(StiggEventDecoder.UsageId, """
            {"data":{"usageUpdatedV2":{"customerId":"acme","resourceId":null,
              "entitlementReference":{"id":"feature-api-calls","type":"FEATURE"},
              "usage":{"currentUsage":42,"usageUpdatedAt":1700000000123,"usagePeriodStart":1700000000000,"usagePeriodEnd":1702592000000}}}}
            """);

        var usage = Assert.IsType<UsageUpdatedEvent>(e);
        Assert.Equal(new CustomerKey("acme", null), usage.Key);
        Assert.Equal(new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 42, 1700000000000, 1702592000000, 1700000000123), usage.Update);
    }

    [Fact]
    public void Decode_CreditUsageWithoutTimestamp_IsStampedByTheClock()
    {
        var e = Decode(StiggEventDecoder.UsageId, """
            {"data":{"usageUpdatedV2":{"customerId":"initech","entitlementReference":{"id":"ai-credits","type":"CREDIT"},
              "usage":{"currentUsage":5}}}}
            """);

        var update = Assert.IsType<UsageUpdatedEvent>(e).Update;
        Assert.Equal(EntitlementRefType.Credit, update.Type);
        Assert.Equal("ai-credits", update.Id);
        Assert.Equal(NowMs, update.Timestamp);
    }

    [Theory]
    [InlineData("""{"customerId":"acme","entitlementReference":{"id":"f","type":"SEAT"},"usage":{"currentUsage":1}}""", "unknown entitlementReference.type")]
    [InlineData("""{"customerId":"acme","entitlementReference":{"id":"f","type":"FEATURE"},"usage":{}}""", "usage.currentUsage missing")]
    public void Decode_UnusableUsage_IsIgnoredAndLogged(string body, string reason)
    {
        var e = Decode(StiggEventDecoder.UsageId, """{"data":{"usageUpdatedV2":BODY}}""".Replace("BODY", body, StringComparison.Ordinal));

        Assert.Null(e);
        Assert.True(_logger.Contains(reason));
    }

    [Theory]
    [InlineData("ALL_CUSTOMERS", true)]
    [InlineData("NEW_CUSTOMERS", false)]
    public void Decode_PackagePublished_SaysWhetherAllCustomersMigrate(string migrationType, bool allCustomers)
    {
        var e = Decode(StiggEventDecoder.PackagesId, """
            {"data":{"packagePublished":{"packageRefId":"plan-pro","packageType":"PLAN","migrationType":"TYPE"}}}
            """.Replace("TYPE", migrationType, StringComparison.Ordinal));

        Assert.Equal(allCustomers, Assert.IsType<PackagePublishedEvent>(e).AllCustomers);
    }

    [Fact]
    public void Decode_PayloadOfTheWrongShape_IsIgnoredAndLogged()
    {
        var e = Decode(StiggEventDecoder.EntitlementsId, """{"data":{"entitlementsUpdatedV2":"not an object"}}""");

        Assert.Null(e);
        Assert.True(_logger.Contains("OnEntitlementsUpdatedV2"));
    }

    [Fact]
    public void Decode_NoPayloadOrUnknownSubscription_IsNull()
    {
        var decoder = new StiggEventDecoder(new FakeTimeProvider(Now), _logger);

        Assert.Null(decoder.Decode(StiggEventDecoder.UsageId, payload: null));
        Assert.Null(Decode("someone-elses", """{"data":{}}"""));
        Assert.True(_logger.Contains("no payload"));
    }

    private StiggEvent? Decode(string subscriptionId, string json)
    {
        using var document = JsonDocument.Parse(json);
        return new StiggEventDecoder(new FakeTimeProvider(Now), _logger).Decode(subscriptionId, document.RootElement);
    }
}
