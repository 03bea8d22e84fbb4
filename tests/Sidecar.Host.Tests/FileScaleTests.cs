using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Core.Json;
using Sidecar.Host.Configuration;
using Sidecar.Host.Sources;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>
/// The entitlements file read at scale: streamed one customer at a time, strings shared across customers, a hash per
/// customer for the reload diff. Each test states a behaviour the whole-file read had and the streamed one keeps.
/// </summary>
public sealed class FileScaleTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"entitlements-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public async Task File_ManyCustomersSharingFeatureIds_EachAnswersItsOwnValues()
    {
        // Every customer lists the same feature ids (shared when loaded) with its own seats limit: its index.
        const int Customers = 3000;
        await WriteAsync(EntitlementStates.ManyCustomers(Customers), indented: false);
        await using var host = await SidecarHost.StartAsync(new Dictionary<string, string> { ["ENTITLEMENTS_FILE"] = _path }, Clocks.WallAtSampleNow());
        Assert.Equal(Customers, host.App.Cache.Hot.Count);

        foreach (var i in new[] { 0, 1, 17, 1499, 2998, 2999 })
        {
            var customer = $"customer-{i:D5}";
            var seats = await host.Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = customer, FeatureId = "feature-seats" });
            var sso = await host.Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = customer, FeatureId = "feature-sso" });
            var state = await host.Client.GetEntitlementsStateV2Async(new GetEntitlementsStateV2Request { CustomerId = customer });

            Assert.False(seats.IsFallback);
            Assert.Equal(i, seats.Entitlement.Value);
            Assert.True(sso.HasAccess);
            Assert.Equal(7, state.Entitlements.Count);
        }

        var unknown = await host.Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = $"customer-{Customers:D5}", FeatureId = "feature-sso" });
        Assert.Equal(AccessDeniedReason.CustomerNotFound, unknown.AccessDeniedReason);
    }

    [Fact]
    public async Task File_HotTierBudgetEvictsCustomers_EvictedOnesAnswerFromTheFileAgain()
    {
        // 1 MiB holds a few hundred of these customers: the load evicts the others, as one write per customer did.
        const int Customers = 2000;
        await WriteAsync(EntitlementStates.ManyCustomers(Customers), indented: false);
        await using var host = await SidecarHost.StartAsync(
            new Dictionary<string, string> { ["ENTITLEMENTS_FILE"] = _path, ["CACHE_MAX_SIZE_BYTES"] = "1048576" },
            Clocks.WallAtSampleNow());
        var hot = host.App.Cache.Hot;
        var heldAfterLoad = hot.Count;

        var first = await host.Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "customer-00000", FeatureId = "feature-seats" });
        var last = await host.Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "customer-01999", FeatureId = "feature-seats" });

        Assert.InRange(heldAfterLoad, 1, Customers - 1);
        Assert.True(hot.Evictions > 0);
        Assert.False(first.IsFallback);
        Assert.Equal(0, first.Entitlement.Value);
        Assert.Equal(1999, last.Entitlement.Value);
    }

    [Fact]
    public async Task File_ReformattedOnDisk_OnlyCustomersWhoseStateChangedAreReplaced()
    {
        var file = EntitlementStates.ManyCustomers(50);
        await WriteAsync(file, indented: false);
        await using var host = await SidecarHost.StartAsync(new Dictionary<string, string> { ["ENTITLEMENTS_FILE"] = _path }, Clocks.WallAtSampleNow());
        var usage = await host.Client.ReportUsageAsync(new ReportUsageRequest { CustomerId = "customer-00001", FeatureId = "feature-api-calls", Value = 7 });

        // The same states written indented, plus one real change to another customer.
        file.Customers[2].EntitlementsState!.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-seats").UsageLimit = 500;
        await WriteAsync(file, indented: true);
        var changed = await Eventually.ValueAsync(
            () => host.Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "customer-00002", FeatureId = "feature-seats" }).ResponseAsync,
            r => r.Entitlement.Value == 500,
            TimeSpan.FromSeconds(10));
        var kept = await host.Client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "customer-00001", FeatureId = "feature-api-calls" });

        Assert.Equal(500, changed.Entitlement.Value);
        Assert.Equal(usage.CurrentUsage, kept.Entitlement.CurrentUsage);
        Assert.Contains("50 entries, 1 changed, 0 removed", host.LogText, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"customers":[{"customerId":"a","entitlementsState":{"entitlementsV2":[]}},{"customerId":"b","entitlementsState":{"entitlementsV2":[{"usageLimit":"x"}]}}]}""")]
    [InlineData("""{"customers":[{"customerId":"a","entitlementsState":{"entitlementsV2":[]}},{"customerId":"b","entitlementsState":{"entitlementsV2":[]""")]
    [InlineData("""{"customers":[{"customerId":"a","entitlementsState":{"entitlementsV2":[]}}]} trailing""")]
    [InlineData("""{"customers":{"customerId":"a"}}""")]
    [InlineData("""[{"customerId":"a"}]""")]
    [InlineData("")]
    public void Open_MalformedFile_SameErrorAsTheWholeFileRead(string text)
    {
        File.WriteAllText(_path, text);
        JsonException expected;
        using (var stream = File.OpenRead(_path))
        {
            expected = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize(stream, CoreJsonContext.Default.EntitlementsFile));
        }

        var ex = Assert.Throws<SettingsException>(() => FileSource.Open(_path, NullLogger.Instance, TimeProvider.System));

        Assert.Equal($"ENTITLEMENTS_FILE: cannot load '{_path}': {expected.Message}", ex.Message);
    }

    [Theory]
    [InlineData("""{"customers":[{"customerId":"a","entitlementsState":{"entitlementsV2":[]}},{"entitlementsState":{}}]}""", "customers[1].customerId is missing")]
    [InlineData("""{"customers":[{"customerId":"a"}]}""", "customers[0].entitlementsState is missing")]
    [InlineData("null", "the file holds JSON null")]
    [InlineData("""{"customers":[{"customerId":"a","entitlementsState":{"entitlementsV2":[]}},null]}""", "customers[1] is null")]
    public void Open_FileWithoutWhatACustomerNeeds_NamesTheEntry(string text, string cause)
    {
        File.WriteAllText(_path, text);

        var ex = Assert.Throws<SettingsException>(() => FileSource.Open(_path, NullLogger.Instance, TimeProvider.System));

        Assert.Equal($"ENTITLEMENTS_FILE: cannot load '{_path}': {cause}", ex.Message);
    }

    [Theory]
    [InlineData("""{"customers":[{"customerId":"a","entitlementsState":{"entitlementsV2":[]}}],"customers":[{"customerId":"b","entitlementsState":{"entitlementsV2":[]}}]}""", "b")]
    [InlineData("""/* c */ {"other":{"x":[1,2,{"y":null}]},"customers":[{"customerId":"a","entitlementsState":{"entitlementsV2":[]}},],} // end""", "a")]
    public void Open_UnusualButValidShape_LoadsAsTheWholeFileReadDoes(string text, string customer)
    {
        File.WriteAllText(_path, text);

        var source = FileSource.Open(_path, NullLogger.Instance, TimeProvider.System);

        Assert.Equal([customer], source.Snapshots.Select(s => s.Key.CustomerId));
    }

    [Fact]
    public void Open_CustomersWithTheSameState_ShareItsEntitlementsAndKeepTheirOwnKeys()
    {
        const string Plan = """{"entitlementsV2":[{"usageLimit":5,"feature":{"refId":"seats","featureType":"NUMBER","meterType":"None"}}]}""";
        const string Other = """{"entitlementsV2":[{"usageLimit":6,"feature":{"refId":"seats","featureType":"NUMBER","meterType":"None"}}]}""";
        File.WriteAllText(_path, $$"""{"customers":[{"customerId":"a","entitlementsState":{{Plan}}},{"customerId":"b","entitlementsState":{{Plan}}},{"customerId":"c","entitlementsState":{{Other}}}]}""");

        var snapshots = FileSource.Open(_path, NullLogger.Instance, TimeProvider.System).Snapshots.ToDictionary(s => s.Key.CustomerId);

        Assert.Same(snapshots["a"].Features, snapshots["b"].Features);
        Assert.Equal(new Sidecar.Core.Model.CustomerKey("b", null), snapshots["b"].Key);
        Assert.True(snapshots["b"].TryGetFeature("seats", out var seats) && seats.UsageLimit == 5);
        Assert.True(snapshots["c"].TryGetFeature("seats", out seats) && seats.UsageLimit == 6);
    }

    private async Task WriteAsync(EntitlementsFile file, bool indented)
    {
        var options = new JsonSerializerOptions(CoreJsonContext.Default.Options) { WriteIndented = indented };
        var json = JsonSerializer.Serialize(file, options.GetTypeInfo(typeof(EntitlementsFile)));
        await File.WriteAllTextAsync(_path + ".tmp", json);
        File.Move(_path + ".tmp", _path, overwrite: true);
    }
}
