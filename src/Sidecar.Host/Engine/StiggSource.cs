using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Upstream;

namespace Sidecar.Host.Engine;

/// <summary>Entitlements from Stigg: the Edge API (or the GraphQL API when the Edge is off or skipped).</summary>
internal sealed class StiggSource(StiggApiClient client) : EntitlementsSource
{
    public override bool PushesAllChanges => false;

    public override Task<EntitlementsStateDto> FetchAsync(CustomerKey key, bool skipEdge, CancellationToken cancellationToken) =>
        client.FetchEntitlementsStateAsync(key, skipEdge, cancellationToken);
}
