using Sidecar.Cache;
using Sidecar.Core.Model;

namespace Sidecar.Upstream;

/// <summary>
/// Entitlements from Stigg: the Edge API on a miss (the GraphQL API when the Edge is off, or for a fresh read), usage
/// and events through the GraphQL API. Stigg's failures reach the cache as <see cref="SourceUnavailableException"/>.
/// </summary>
public sealed class StiggSource(StiggApiClient client) : IEntitlementsSource
{
    public string Mode => "stigg";

    public bool PushesAllChanges => false;

    public bool EntityExistsWithoutData => false;

    public async Task<CustomerSnapshot?> FetchAsync(CustomerKey key, bool fresh, CancellationToken cancellationToken)
    {
        try
        {
            return await client.FetchEntitlementsAsync(key, skipEdge: fresh, cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            throw new SourceUnavailableException(ex.Message, ex);
        }
    }

    public async Task<IReadOnlyList<UsageReportResult>> ReportUsageAsync(IReadOnlyList<UsageReport> reports, TieredEntitlementCache cache, CancellationToken cancellationToken)
    {
        try
        {
            return await client.ReportUsageAsync(reports, cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            throw new SourceUnavailableException("usage could not be reported to Stigg: " + ex.Message, ex);
        }
    }

    public async Task ReportEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken)
    {
        try
        {
            await client.ReportEventsAsync(events, cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            throw new SourceUnavailableException("events could not be reported to Stigg: " + ex.Message, ex);
        }
    }
}
