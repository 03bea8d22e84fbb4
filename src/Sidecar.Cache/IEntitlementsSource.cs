using Sidecar.Core.Model;

namespace Sidecar.Cache;

/// <summary>
/// Where entitlements come from on a miss and where usage goes: one implementation per mode — Stigg (Edge/GraphQL),
/// a local entitlements file, offline. The mode is decided once, by choosing the source; no other code asks it.
/// </summary>
public interface IEntitlementsSource
{
    /// <summary>"stigg", "file" or "offline": for readiness and logs.</summary>
    string Mode { get; }

    /// <summary>True when the source pushes every change into the cache itself, so held entries never need revalidating.</summary>
    bool PushesAllChanges { get; }

    /// <summary>What <c>ReloadEntitlements</c> answers when the source holds no data at all (Stigg's offline mode: true).</summary>
    bool EntityExistsWithoutData { get; }

    /// <summary>
    /// The customer's current entitlements; null when this source never has data (offline: every read is the
    /// fallback). Throws <see cref="SourceUnavailableException"/> when they cannot be had now.
    /// </summary>
    /// <param name="key">The entry.</param>
    /// <param name="fresh">Read-after-write (<c>ReloadEntitlements</c>): bypass every cache on the way, e.g. the GraphQL
    /// API instead of the Edge.</param>
    /// <param name="cancellationToken">Abandons the fetch.</param>
    Task<CustomerSnapshot?> FetchAsync(CustomerKey key, bool fresh, CancellationToken cancellationToken);

    /// <summary>
    /// Reports usage. Each result carries the absolute usage the cache holds afterwards (none when
    /// <see cref="UsageReportResult.CurrentUsage"/> is null); the cache writes it. <paramref name="cache"/> is there for
    /// sources that account usage themselves (a local file). Throws <see cref="SourceUnavailableException"/>.
    /// </summary>
    Task<IReadOnlyList<UsageReportResult>> ReportUsageAsync(IReadOnlyList<UsageReport> reports, TieredEntitlementCache cache, CancellationToken cancellationToken);

    /// <summary>Reports raw events (aggregated by the source's meters; the cache is not touched).</summary>
    Task ReportEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken);
}

/// <summary>The source cannot answer now (network, HTTP or GraphQL failure); the message says why, in words.</summary>
public sealed class SourceUnavailableException(string message, Exception? innerException = null) : Exception(message, innerException);
