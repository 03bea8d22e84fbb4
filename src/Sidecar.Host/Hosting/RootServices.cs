using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Features;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Requests use the root container: every service of ours is a singleton, but grpc-dotnet resolves the service from
/// <c>HttpContext.RequestServices</c>, which would create (and after the response dispose) a DI scope per call. Set as
/// the request's feature, so that not even the per-request feature holding a scope is made.
/// </summary>
internal static class RootServices
{
    public static void UseRootServices(this WebApplication web)
    {
        var feature = new Feature(web.Services);
        web.Use((context, next) =>
        {
            context.Features.Set<IServiceProvidersFeature>(feature);
            return next(context);
        });
    }

    private sealed class Feature(IServiceProvider services) : IServiceProvidersFeature
    {
        public IServiceProvider RequestServices
        {
            get => services;
            set => throw new NotSupportedException("requests use the root container; none may bring its own");
        }
    }
}
