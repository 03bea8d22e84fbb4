using Grpc.Core;
using Grpc.Net.Client;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Smoke.Tests;

/// <summary>Issue #2 end to end: the AOT binary on the sample file answers real gRPC calls, is ready, stops on SIGTERM.</summary>
[Collection(AotCollection.Name)]
public sealed class FileModeSmokeTests(AotBinary binary)
{
    [Fact]
    public async Task AotBinary_SampleFile_AnswersChecksAndStopsOnSigterm()
    {
        var env = new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements,
            ["LOG_LEVEL"] = "info",
        };
        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, env, TimeSpan.FromSeconds(30));
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);
        var client = new SidecarService.SidecarServiceClient(channel);

        var sso = await client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });
        var seats = await client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" });
        var state = await client.GetEntitlementsStateV2Async(new GetEntitlementsStateV2Request { CustomerId = "acme" });
        var missing = await client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "nobody", FeatureId = "feature-sso" });
        var bad = await Assert.ThrowsAsync<RpcException>(() => client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { FeatureId = "f" }).ResponseAsync);
        var health = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{sidecar.MetricsPort}/metrics"));
        var exit = await sidecar.StopAsync(TimeSpan.FromSeconds(15));

        Assert.True(sso.HasAccess);
        Assert.Equal(25, seats.Entitlement.Value);
        Assert.Equal(7, state.Entitlements.Count);
        Assert.Equal(AccessDeniedReason.CustomerNotFound, missing.AccessDeniedReason);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Contains("sidecar_grpc_requests", metrics, StringComparison.Ordinal);
        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task AotBinary_HealthSubcommand_ExitsZeroWhenHealthyAndOneWhenDown()
    {
        var env = new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements,
        };
        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, env, TimeSpan.FromSeconds(30));
        var metricsPort = sidecar.MetricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

        await using var healthy = SidecarProcess.Start(binary.Path, new Dictionary<string, string> { ["METRICS_PORT"] = metricsPort }, null, "health");
        await healthy.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await sidecar.StopAsync(TimeSpan.FromSeconds(15));
        await using var down = SidecarProcess.Start(binary.Path, new Dictionary<string, string> { ["METRICS_PORT"] = metricsPort }, null, "health");
        await down.WaitForExitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, healthy.ExitCode);
        Assert.Equal(1, down.ExitCode);
    }

    [Fact]
    public async Task AotBinary_BadEnvironment_RefusesWithOneLine()
    {
        await using var sidecar = SidecarProcess.Start(binary.Path, new Dictionary<string, string> { ["SERVER_API_KEY"] = "k", ["REDIS_PORT"] = "sixty" });

        await sidecar.WaitForExitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(2, sidecar.ExitCode);
        Assert.Contains("REDIS_PORT:", Assert.Single(sidecar.Output), StringComparison.Ordinal);
    }
}
