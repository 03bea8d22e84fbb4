using System.Text.RegularExpressions;
using Grpc.Core;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>Every call is counted by method and status code, and timed by method, in the Prometheus scrape.</summary>
[Collection(MetricsCollection.Name)]
public sealed class RequestMetricsTests
{
    [Fact]
    public async Task Scrape_AfterCalls_CountsEachMethodAndCodeAndTimesEachMethod()
    {
        await using var host = await SidecarHost.StartWithSampleFileAsync();
        var check = new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" };
        await host.Client.GetBooleanEntitlementAsync(check);
        await host.Client.GetBooleanEntitlementAsync(check);
        await Assert.ThrowsAsync<RpcException>(async () => await host.Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { FeatureId = "feature-sso" }));
        await host.Client.GetEntitlementsAsync(new GetEntitlementsRequest { CustomerId = "acme" });

        var scrape = await Eventually.ValueAsync(
            () => host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative)),
            m => Count(m, "GetBooleanEntitlement", "OK") == 2 && Count(m, "GetBooleanEntitlement", "INVALID_ARGUMENT") == 1 && Count(m, "GetEntitlements", "OK") == 1,
            TimeSpan.FromSeconds(10),
            "the calls counted");

        Assert.Equal(3, Series(scrape, "sidecar_grpc_requests_total").Count);
        Assert.Matches(new Regex(@"(?m)^sidecar_grpc_request_duration_seconds_count\{[^}]*method=""GetBooleanEntitlement""[^}]*\} 3$"), scrape);
        Assert.Matches(new Regex(@"(?m)^sidecar_grpc_request_duration_seconds_count\{[^}]*method=""GetEntitlements""[^}]*\} 1$"), scrape);

        // Kestrel's meter is exported, but not its one per-request instrument (it would cost every call).
        Assert.Contains("kestrel_active_connections{", scrape, StringComparison.Ordinal);
        Assert.DoesNotContain("kestrel_queued_requests", scrape, StringComparison.Ordinal);
    }

    private static long Count(string scrape, string method, string code) =>
        Series(scrape, "sidecar_grpc_requests_total")
            .Where(l => l.Contains($"method=\"{method}\"", StringComparison.Ordinal) && l.Contains($"code=\"{code}\"", StringComparison.Ordinal))
            .Select(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            .SingleOrDefault();

    private static List<string> Series(string scrape, string name) =>
        scrape.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal)).ToList();
}

/// <summary>
/// Exact counts: a host's exporter listens to every meter of the sidecar's name in the process, so another class's
/// host, serving beside it, would add its calls to the scrape. These run alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "Metrics (exact counts)";
}
