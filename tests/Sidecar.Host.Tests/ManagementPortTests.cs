using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>
/// The management endpoints are told apart by the port the connection arrived on, not by the Host header (issue 11):
/// behind a port-forward or a Service the header names another port.
/// </summary>
public sealed class ManagementPortTests(SampleFileSidecar fixture) : IClassFixture<SampleFileSidecar>
{
    private SidecarHost Host => fixture.Host;

    [Theory]
    [InlineData("/livez")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    public async Task ManagementEndpoint_HostHeaderNamesAnotherPort_Ok(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = "sidecar.example:9090";

        using var response = await Host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/livez")]
    [InlineData("/metrics")]
    public async Task ManagementEndpoint_OnGrpcPort_NotFound(string path)
    {
        using var http = Host.GrpcPortHttp();

        using var response = await http.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task GrpcMethod_OnManagementPort_NotFound()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");

        using var response = await Host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task GrpcClient_OnManagementPort_Fails()
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{Host.Settings.Server.MetricsPort}");
        var client = new SidecarService.SidecarServiceClient(channel);

        await Assert.ThrowsAsync<RpcException>(async () =>
            await client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" }));
    }
}
