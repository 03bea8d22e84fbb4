using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>
/// Tests that read one host's /metrics. Every in-process host puts its instruments on a meter of the same name, and
/// OpenTelemetry drops a metric when any meter carrying it is disposed: another test's host stopping mid-scrape would
/// take this host's lines with it. So these run alone (production has one host per process).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "Reads /metrics";
}

[Collection(MetricsCollection.Name)]
public sealed class MetricsTests(SampleFileSidecar fixture) : IClassFixture<SampleFileSidecar>
{
    private SidecarService.SidecarServiceClient Client => fixture.Host.Client;

    [Fact]
    public async Task Endpoints_LivezReadyzMetrics_Answer()
    {
        var http = fixture.Host.Http;
        await Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });

        var live = await http.GetAsync(new Uri("/livez", UriKind.Relative));
        var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"ready\":true", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("sidecar_grpc_requests", metrics, StringComparison.Ordinal);
        Assert.Contains("method=\"GetBooleanEntitlement\"", metrics, StringComparison.Ordinal);
        Assert.Contains("sidecar_grpc_request_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("sidecar_cache_bytes", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FallbackAnswer_FromHotTier_Counted()
    {
        // A type mismatch on a cached customer is answered from the hot tier, with the fallback values.
        var before = FallbackCount(await fixture.Host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative)), "GetNumericEntitlement");
        var response = await Client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });
        // The exporter caches a scrape briefly: poll until a fresh one shows the count.
        var after = await Eventually.ValueAsync(
            async () => FallbackCount(await fixture.Host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative)), "GetNumericEntitlement"),
            count => count >= before + 1,
            TimeSpan.FromSeconds(10));

        Assert.True(response.IsFallback);
        Assert.True(after >= before + 1, $"sidecar_fallback_answers_total for GetNumericEntitlement went from {before} to {after}");
    }

    private static double FallbackCount(string metrics, string method)
    {
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("sidecar_fallback_answers_total{", StringComparison.Ordinal) && l.Contains($"method=\"{method}\"", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
