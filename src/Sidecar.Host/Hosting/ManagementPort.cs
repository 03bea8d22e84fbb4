using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Keeps the two listeners apart by the port the connection arrived on, not by the Host header: behind
/// <c>kubectl port-forward 9090:8080</c>, <c>docker run -p</c> or a Service the header names another port. The
/// management endpoints (liveness, readiness, metrics) answer only on METRICS_PORT, and nothing else does.
/// </summary>
internal static class ManagementPort
{
    /// <summary>Marks an endpoint as a management one (see <see cref="RequireManagementPort{T}"/>).</summary>
    private sealed class Marker;

    private static readonly Marker Metadata = new();

    public static TBuilder RequireManagementPort<TBuilder>(this TBuilder endpoint)
        where TBuilder : IEndpointConventionBuilder => endpoint.WithMetadata(Metadata);

    /// <summary>
    /// Answers 404 to a management endpoint reached on another port (gRPC's, the Unix socket), and to anything else
    /// reached on the management port. Runs after routing has chosen the endpoint.
    /// </summary>
    public static void UseManagementPortSeparation(this WebApplication web, int metricsPort) =>
        web.Use((context, next) =>
        {
            var onManagementPort = context.Connection.LocalPort == metricsPort;
            var isManagement = context.GetEndpoint()?.Metadata.GetMetadata<Marker>() is not null;
            if (onManagementPort != isManagement)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
}
