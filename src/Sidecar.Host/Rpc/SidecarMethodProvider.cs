using System.Diagnostics;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Sidecar.Host.Diagnostics;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Rpc;

/// <summary>
/// Binds the 12 methods of <c>stigg.sidecar.v1.SidecarService</c> to <see cref="SidecarGrpcService"/> with our own
/// marshallers, so that a request that is not valid protobuf becomes INVALID_ARGUMENT (not INTERNAL), and every call
/// is counted and timed in one place.
/// </summary>
internal sealed class SidecarMethodProvider(SidecarMetrics metrics, ILogger<SidecarMethodProvider> logger) : IServiceMethodProvider<SidecarGrpcService>
{
    private const string ServiceName = "stigg.sidecar.v1.SidecarService";

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<SidecarGrpcService> context)
    {
        Add(context, "GetEntitlements", GetEntitlementsRequest.Parser, static (s, r, c) => s.GetEntitlements(r, c));
        Add(context, "GetEntitlement", GetEntitlementRequest.Parser, static (s, r, c) => s.GetEntitlement(r, c));
        Add(context, "GetBooleanEntitlement", GetBooleanEntitlementRequest.Parser, static (s, r, c) => s.GetBooleanEntitlement(r, c));
        Add(context, "GetNumericEntitlement", GetNumericEntitlementRequest.Parser, static (s, r, c) => s.GetNumericEntitlement(r, c));
        Add(context, "GetMeteredEntitlement", GetMeteredEntitlementRequest.Parser, static (s, r, c) => s.GetMeteredEntitlement(r, c));
        Add(context, "GetEnumEntitlement", GetEnumEntitlementRequest.Parser, static (s, r, c) => s.GetEnumEntitlement(r, c));
        Add(context, "ReportUsage", ReportUsageRequest.Parser, static (s, r, c) => s.ReportUsage(r, c));
        Add(context, "ReportEvents", ReportEventsRequest.Parser, static (s, r, c) => s.ReportEvents(r, c));
        Add(context, "ReloadEntitlements", ReloadEntitlementsRequest.Parser, static (s, r, c) => s.ReloadEntitlements(r, c));
        Add(context, "ReportUsageBulk", ReportUsageBulkRequest.Parser, static (s, r, c) => s.ReportUsageBulk(r, c));
        Add(context, "GetEntitlementV2", GetEntitlementV2Request.Parser, static (s, r, c) => s.GetEntitlementV2(r, c));
        Add(context, "GetEntitlementsStateV2", GetEntitlementsStateV2Request.Parser, static (s, r, c) => s.GetEntitlementsStateV2(r, c));
    }

    private void Add<TRequest, TResponse>(
        ServiceMethodProviderContext<SidecarGrpcService> context,
        string name,
        MessageParser<TRequest> parser,
        UnaryServerMethod<SidecarGrpcService, TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, IBufferMessage
        where TResponse : class, IMessage<TResponse>, IBufferMessage
    {
        var method = new Method<TRequest, TResponse>(MethodType.Unary, ServiceName, name, RequestMarshaller(parser), ResponseMarshaller<TResponse>());
        context.AddUnaryMethod(method, [], Guard(name, handler, metrics, logger));
    }

    /// <summary>
    /// Wraps a handler: counts and times every call, and turns a fault of ours (anything but an <see cref="RpcException"/>
    /// or a cancellation) into INTERNAL with words and one log line — grpc-dotnet would answer UNKNOWN "Exception was
    /// thrown by handler." and the exception's text could name internals.
    /// </summary>
    internal static UnaryServerMethod<SidecarGrpcService, TRequest, TResponse> Guard<TRequest, TResponse>(
        string name, UnaryServerMethod<SidecarGrpcService, TRequest, TResponse> handler, SidecarMetrics metrics, ILogger logger)
        where TRequest : class
        where TResponse : class
    {
        var requests = metrics.ForMethod(name);
        return (service, request, callContext) =>
        {
            var start = Stopwatch.GetTimestamp();
            Task<TResponse> task;
            try
            {
                task = handler(service, request, callContext);
            }
            catch (RpcException ex)
            {
                metrics.Request(requests, ex.StatusCode, start);
                throw;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw Internal(name, requests, start, ex, metrics, logger);
            }

            if (task.IsCompletedSuccessfully)
            {
                metrics.Request(requests, StatusCode.OK, start);
                return task;
            }

            return Completion(task, name, requests, start, metrics, logger);
        };
    }

    private static async Task<TResponse> Completion<TResponse>(Task<TResponse> task, string name, MethodRequests requests, long start, SidecarMetrics metrics, ILogger logger)
    {
        try
        {
            var response = await task.ConfigureAwait(false);
            metrics.Request(requests, StatusCode.OK, start);
            return response;
        }
        catch (RpcException ex)
        {
            metrics.Request(requests, ex.StatusCode, start);
            throw;
        }
        catch (OperationCanceledException)
        {
            metrics.Request(requests, StatusCode.Cancelled, start);
            throw;
        }
        catch (Exception ex)
        {
            throw Internal(name, requests, start, ex, metrics, logger);
        }
    }

    private static RpcException Internal(string method, MethodRequests requests, long start, Exception ex, SidecarMetrics metrics, ILogger logger)
    {
        metrics.Request(requests, StatusCode.Internal, start);
        Log.HandlerFailed(logger, method, ex);
        return new RpcException(new Status(StatusCode.Internal, $"{method} failed inside the sidecar; its log says why"));
    }

    private static Marshaller<TRequest> RequestMarshaller<TRequest>(MessageParser<TRequest> parser)
        where TRequest : class, IMessage<TRequest>, IBufferMessage =>
        new(
            static (message, context) => Serialize(message, context),
            context =>
            {
                try
                {
                    return parser.ParseFrom(context.PayloadAsReadOnlySequence());
                }
                catch (InvalidProtocolBufferException ex)
                {
                    throw RequestValidation.Invalid($"request: not a valid {typeof(TRequest).Name} protobuf message: {ex.Message}");
                }
            });

    private static Marshaller<TResponse> ResponseMarshaller<TResponse>()
        where TResponse : class, IMessage<TResponse>, IBufferMessage =>
        new(static (message, context) => Serialize(message, context), static _ => throw new NotSupportedException("the server never reads responses"));

    private static void Serialize<T>(T message, SerializationContext context)
        where T : IMessage<T>, IBufferMessage
    {
        context.SetPayloadLength(message.CalculateSize());
        message.WriteTo(context.GetBufferWriter());
        context.Complete();
    }
}
