using Sidecar.Cache;
using Sidecar.Core.Model;

namespace Sidecar.Host.Sources;

/// <summary>
/// OFFLINE=true (stigg-behaviour §5.4): no data, so every read is the fallback; usage gets Stigg's fake
/// acknowledgement; events are dropped; nothing goes on the network.
/// </summary>
internal sealed class OfflineSource : IEntitlementsSource
{
    public string Mode => "offline";

    public bool PushesAllChanges => true;

    public bool EntityExistsWithoutData => true;

    public Task<CustomerSnapshot?> FetchAsync(CustomerKey key, bool fresh, CancellationToken cancellationToken) =>
        Task.FromResult<CustomerSnapshot?>(null);

    public Task<IReadOnlyList<UsageReportResult>> ReportUsageAsync(IReadOnlyList<UsageReport> reports, TieredEntitlementCache cache, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<UsageReportResult>>([.. reports.Select(Acknowledgement)]);

    public Task ReportEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stigg's offline acknowledgement: a fresh measurement id and the report's ids, no usage.</summary>
    internal static UsageReportResult Acknowledgement(UsageReport report) => new()
    {
        MeasurementId = NanoId.New(),
        CustomerId = report.CustomerId,
        ResourceId = report.ResourceId,
        FeatureId = report.FeatureId,
    };
}
