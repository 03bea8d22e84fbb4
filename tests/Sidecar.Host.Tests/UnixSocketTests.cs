using System.Net.Sockets;
using Grpc.Net.Client;
using Stigg.Sidecar.V1;
using Sidecar.Testing;

namespace Sidecar.Host.Tests;

public sealed class UnixSocketTests
{
    [Fact]
    public async Task GrpcUnixSocket_ServesTheSameContract()
    {
        var socket = Path.Combine(Path.GetTempPath(), $"sidecar-{Guid.NewGuid():N}.sock");
        await using var host = await SidecarHost.StartAsync(new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements,
            ["GRPC_UNIX_SOCKET"] = socket,
        }, Clocks.WallAtSampleNow());
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });

        var response = await new SidecarService.SidecarServiceClient(channel).GetBooleanEntitlementAsync(
            new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });

        Assert.True(response.HasAccess);
    }
}
