using Stigg.Sidecar.V1;
using Sidecar.Testing;

namespace Sidecar.Host.Tests;

/// <summary>OFFLINE=true (stigg-behaviour §5.4) and the local entitlements file's live reload and local usage accounting.</summary>
public sealed class ModeTests
{
    [Fact]
    public async Task Offline_ReadsAreGlobalFallback_UsageGetsFakeAcknowledgement()
    {
        await using var host = await SidecarHost.StartAsync(new Dictionary<string, string>
        {
            ["OFFLINE"] = "true",
            ["ENTITLEMENTS_FALLBACK"] = """{"feature-sso":{"hasAccess":true},"feature-api-calls":{"hasAccess":true,"usageLimit":500}}""",
        });

        var sso = await host.Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "anyone", FeatureId = "feature-sso" });
        var calls = await host.Client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "anyone", FeatureId = "feature-api-calls" });
        var unknown = await host.Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "anyone", FeatureId = "feature-x" });
        var ack = await host.Client.ReportUsageAsync(new ReportUsageRequest { CustomerId = "anyone", FeatureId = "feature-api-calls", Value = 3, ResourceId = "r1" });
        var reload = await host.Client.ReloadEntitlementsAsync(new ReloadEntitlementsRequest { CustomerId = "anyone" });

        Assert.True(sso.IsFallback);
        Assert.True(sso.HasAccess);
        Assert.True(calls.IsFallback);
        Assert.Equal(500, calls.Entitlement.UsageLimit);
        Assert.True(unknown.IsFallback);
        Assert.False(unknown.HasAccess);
        Assert.Equal(AccessDeniedReason.Unknown, unknown.AccessDeniedReason);
        Assert.Equal(21, ack.MeasurementId.Length);
        Assert.Equal("anyone", ack.CustomerId);
        Assert.Equal("r1", ack.ResourceId);
        Assert.False(ack.HasCurrentUsage);
        Assert.True(reload.EntitledEntityExists);
    }

    [Fact]
    public async Task File_BulkUsageForOneFeature_EachReportCountsOnTheOneBefore()
    {
        await using var host = await SidecarHost.StartWithSampleFileAsync();
        var metered = new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" };
        var before = (await host.Client.GetMeteredEntitlementAsync(metered)).Entitlement.CurrentUsage;
        var bulk = new ReportUsageBulkRequest();
        bulk.Usages.Add(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 3 });
        bulk.Usages.Add(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 4 });
        bulk.Usages.Add(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 10, UpdateBehavior = UsageUpdateBehavior.Set });
        bulk.Usages.Add(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 });

        var answer = await host.Client.ReportUsageBulkAsync(bulk);
        var after = (await host.Client.GetMeteredEntitlementAsync(metered)).Entitlement.CurrentUsage;

        Assert.Equal([before + 3, before + 7, 10, 11], answer.Usages.Select(u => u.CurrentUsage));
        Assert.Equal(11, after);
    }

    [Fact]
    public async Task File_ChangedOnDisk_NextChecksSeeTheNewPlan()
    {
        var path = Path.Combine(Path.GetTempPath(), $"entitlements-{Guid.NewGuid():N}.json");
        File.Copy(RepoPaths.SampleEntitlements, path);
        try
        {
            await using var host = await SidecarHost.StartAsync(new Dictionary<string, string> { ["ENTITLEMENTS_FILE"] = path }, Clocks.WallAtSampleNow());
            var before = await host.Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" });

            var text = await File.ReadAllTextAsync(path);
            await File.WriteAllTextAsync(path + ".tmp", text.Replace("\"usageLimit\": 25", "\"usageLimit\": 40", StringComparison.Ordinal));
            File.Move(path + ".tmp", path, overwrite: true);

            var after = await Eventually.ValueAsync(
                () => host.Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" }).ResponseAsync,
                r => r.Entitlement.Value == 40,
                TimeSpan.FromSeconds(10));

            Assert.Equal(25, before.Entitlement.Value);
            Assert.Equal(40, after.Entitlement.Value);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task File_ReportUsage_AccountedLocally()
    {
        await using var host = await SidecarHost.StartAsync(new Dictionary<string, string> { ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements }, Clocks.WallAtSampleNow());

        var delta = await host.Client.ReportUsageAsync(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 5 });
        var set = await host.Client.ReportUsageAsync(new ReportUsageRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Value = 999,
            UpdateBehavior = UsageUpdateBehavior.Set,
        });
        var check = await host.Client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 2 },
        });

        Assert.Equal(255, delta.CurrentUsage);
        Assert.Equal(999, set.CurrentUsage);
        Assert.Equal(999, check.Entitlement.CurrentUsage);
        Assert.False(check.HasAccess);
        Assert.Equal(AccessDeniedReason.RequestedUsageExceedingLimit, check.AccessDeniedReason);
    }
}
