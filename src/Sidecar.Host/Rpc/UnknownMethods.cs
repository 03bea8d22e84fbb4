using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Sidecar.Host.Rpc;

/// <summary>
/// UNIMPLEMENTED for a gRPC call to a service or method this server does not have, answered as grpc-dotnet answers
/// it. Ours because grpc-dotnet does it with catch-all routes (<c>{service}/{method}</c> and one per service): every
/// call to a real method then matched those too and captured their route values, which was ~420 of the ~1,130 bytes
/// a cached check allocated in process (bench <c>GrpcPipelineBenchmarks</c>). grpc-dotnet's are off
/// (<c>IgnoreUnknownServices</c>); this runs after routing, for calls no endpoint matched.
/// </summary>
internal static class UnknownMethods
{
    private const string GrpcContentType = "application/grpc";

    /// <param name="services">The full names of the services mapped: a call to one of them names an unknown method.</param>
    public static void UseUnimplementedForUnknownMethods(this WebApplication web, IReadOnlySet<string> services) =>
        web.Use((context, next) => context.GetEndpoint() is null && IsGrpcCall(context.Request)
            ? Unimplemented(context.Response, services.Contains(ServiceName(context.Request.Path)) ? "Method is unimplemented." : "Service is unimplemented.")
            : next(context));

    /// <summary>A POST with gRPC's content type (<c>application/grpc</c>, or with <c>+format</c> or parameters; not gRPC-Web).</summary>
    private static bool IsGrpcCall(HttpRequest request)
    {
        if (!HttpMethods.IsPost(request.Method) || request.ContentType is not { } type
            || !type.StartsWith(GrpcContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return type.Length == GrpcContentType.Length || type[GrpcContentType.Length] is '+' or ';';
    }

    /// <summary><c>/package.Service/Method</c> → <c>package.Service</c>.</summary>
    private static string ServiceName(PathString path)
    {
        var value = path.Value ?? string.Empty;
        var end = value.IndexOf('/', 1);
        return end < 0 ? string.Empty : value[1..end];
    }

    /// <summary>A trailers-only response: HTTP 200 with the status in the headers, no body.</summary>
    private static Task Unimplemented(HttpResponse response, string message)
    {
        response.ContentType = GrpcContentType;
        response.Headers["grpc-status"] = "12"; // UNIMPLEMENTED
        response.Headers["grpc-message"] = message;
        return Task.CompletedTask;
    }
}
