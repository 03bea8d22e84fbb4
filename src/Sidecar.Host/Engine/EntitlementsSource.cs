using Sidecar.Core.Json;
using Sidecar.Core.Model;

namespace Sidecar.Host.Engine;

/// <summary>Where a customer's entitlements come from on a miss: Stigg (Edge/GraphQL) or the local entitlements file.</summary>
internal abstract class EntitlementsSource
{
    /// <summary>Fetches the current state; throws when it cannot be had (the caller falls back).</summary>
    /// <param name="skipEdge">Read-after-write: go to the GraphQL API instead of the Edge (ReloadEntitlements).</param>
    public abstract Task<EntitlementsStateDto> FetchAsync(CustomerKey key, bool skipEdge, CancellationToken cancellationToken);

    /// <summary>Whether the source pushes every change to us (so cached entries never need revalidating).</summary>
    public abstract bool PushesAllChanges { get; }
}
