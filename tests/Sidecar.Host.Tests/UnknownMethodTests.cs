using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>
/// A gRPC call to a method or service the sidecar does not have is UNIMPLEMENTED, with grpc-dotnet's words; a
/// request that is not gRPC finds nothing. Answered by our own middleware since grpc-dotnet's catch-all routes,
/// which cost every real call, are off.
/// </summary>
public sealed class UnknownMethodTests(SampleFileSidecar fixture) : IClassFixture<SampleFileSidecar>
{
    private static readonly Marshaller<Empty> EmptyMarshaller = Marshallers.Create(m => m.ToByteArray(), Empty.Parser.ParseFrom);

    private SidecarHost Host => fixture.Host;

    [Theory]
    [InlineData("stigg.sidecar.v1.SidecarService", "GetEverything", "Method is unimplemented.")]
    [InlineData("grpc.health.v1.Health", "Probe", "Method is unimplemented.")]
    [InlineData("stigg.sidecar.v2.SidecarService", "GetBooleanEntitlement", "Service is unimplemented.")]
    [InlineData("grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo", "Service is unimplemented.")] // off by default
    public async Task UnknownMethodOrService_Unimplemented(string service, string method, string message)
    {
        var call = new Method<Empty, Empty>(MethodType.Unary, service, method, EmptyMarshaller, EmptyMarshaller);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await Host.Channel.CreateCallInvoker().AsyncUnaryCall(call, null, default, new Empty()));

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Equal(message, error.Status.Detail);
    }

    [Fact]
    public async Task KnownMethod_AfterUnknownOnes_Answers()
    {
        var call = new Method<Empty, Empty>(MethodType.Unary, "stigg.sidecar.v1.SidecarService", "Nope", EmptyMarshaller, EmptyMarshaller);
        await Assert.ThrowsAsync<RpcException>(async () => await Host.Channel.CreateCallInvoker().AsyncUnaryCall(call, null, default, new Empty()));

        var answer = await Host.Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });

        Assert.True(answer.HasAccess);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/grpc-web")]
    public async Task NotGrpc_OnGrpcPort_NotFound(string contentType)
    {
        using var http = Host.GrpcPortHttp();
        using var content = new ByteArrayContent([0, 0, 0, 0, 0]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);

        using var response = await http.PostAsync("/stigg.sidecar.v1.SidecarService/GetEverything", content);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
