using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sidecar.Cache;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Host.Configuration;
using Sidecar.Host.Diagnostics;

namespace Sidecar.Host.Sources;

/// <summary>
/// Entitlements from a local JSON file (ENTITLEMENTS_FILE): Edge-shaped <c>entitlementsState</c> documents for many
/// customers. A customer the file does not list is answered as Stigg's Edge answers an unknown one (CustomerNotFound).
/// Usage is accounted locally (DELTA adds, SET replaces) so checks reflect it until the file changes; events have
/// nowhere to go and are dropped. <see cref="Hosting.EntitlementsFileWatcher"/> pushes the file's changes.
/// </summary>
internal sealed class FileSource : IEntitlementsSource
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _reloadLock = new();
    private Dictionary<CustomerKey, EntitlementsStateDto> _customers;

    private FileSource(string path, Dictionary<CustomerKey, EntitlementsStateDto> customers, ILogger logger, TimeProvider time)
    {
        Path = path;
        _customers = customers;
        _logger = logger;
        _time = time;
    }

    public string Mode => "file";

    /// <summary>The file is the whole truth and every change is pushed: held entries never need revalidating.</summary>
    public bool PushesAllChanges => true;

    public bool EntityExistsWithoutData => false;

    public string Path { get; }

    public IReadOnlyDictionary<CustomerKey, EntitlementsStateDto> Customers => _customers;

    /// <summary>Loads the file; a file that cannot be read or parsed is a configuration error.</summary>
    public static FileSource Open(string path, ILogger logger, TimeProvider time)
    {
        try
        {
            return new FileSource(path, Parse(path), logger, time);
        }
        catch (Exception ex) when (ex is JsonException or IOException or FormatException)
        {
            throw new SettingsException($"ENTITLEMENTS_FILE: cannot load '{path}': {ex.Message}");
        }
    }

    public Task<CustomerSnapshot?> FetchAsync(CustomerKey key, bool fresh, CancellationToken cancellationToken)
    {
        if (!_customers.TryGetValue(key, out var state))
        {
            var reason = key.ResourceId is not null && _customers.ContainsKey(key.Global) ? "CustomerResourceNotFound" : "CustomerNotFound";
            state = new EntitlementsStateDto { AccessDeniedReason = reason };
        }

        return Task.FromResult<CustomerSnapshot?>(ToSnapshot(key, state));
    }

    public CustomerSnapshot ToSnapshot(CustomerKey key, EntitlementsStateDto state) =>
        EntitlementsStateMapper.ToSnapshot(key, state, _time.GetUtcNow().ToUnixTimeMilliseconds());

    public async Task<IReadOnlyList<UsageReportResult>> ReportUsageAsync(IReadOnlyList<UsageReport> reports, TieredEntitlementCache cache, CancellationToken cancellationToken)
    {
        var results = new List<UsageReportResult>(reports.Count);
        var tally = new UsageTally();
        foreach (var report in reports)
        {
            var acknowledgement = OfflineSource.Acknowledgement(report);
            var key = new CustomerKey(report.CustomerId, report.ResourceId);
            var snapshot = await cache.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (snapshot is null || !snapshot.TryGetFeature(report.FeatureId, out var feature))
            {
                results.Add(acknowledgement);
                continue;
            }

            results.Add(acknowledgement with
            {
                CurrentUsage = tally.Apply(key, report, feature.CurrentUsage),
                UsagePeriodStart = feature.UsagePeriodStart,
                UsagePeriodEnd = feature.UsagePeriodEnd,
                Timestamp = Math.Max(cache.NowMs, feature.UsageUpdatedAt),
            });
        }

        return results;
    }

    /// <summary>Raw events are aggregated by Stigg's meters; a local file has none (Stigg's offline mode drops them too).</summary>
    public Task ReportEventsAsync(IReadOnlyList<RawEvent> events, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Re-reads the file: the entries that changed and those that disappeared, or null (the old contents kept, the
    /// reason logged) when it does not parse.
    /// </summary>
    public FileChanges? Reload()
    {
        lock (_reloadLock)
        {
            Dictionary<CustomerKey, EntitlementsStateDto> fresh;
            try
            {
                fresh = Parse(Path);
            }
            catch (Exception ex) when (ex is JsonException or IOException or FormatException or UnauthorizedAccessException)
            {
                Log.EntitlementsFileInvalid(_logger, Path, ex.Message);
                return null;
            }

            var old = _customers;
            var changed = new Dictionary<CustomerKey, EntitlementsStateDto>();
            foreach (var (key, state) in fresh)
            {
                if (!old.TryGetValue(key, out var previous) || !SameJson(previous, state))
                {
                    changed[key] = state;
                }
            }

            var removed = old.Keys.Where(k => !fresh.ContainsKey(k)).ToList();
            _customers = fresh;
            Log.EntitlementsFileReloaded(_logger, fresh.Count, changed.Count, removed.Count);
            return new FileChanges(changed, removed);
        }
    }

    private static Dictionary<CustomerKey, EntitlementsStateDto> Parse(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var file = JsonSerializer.Deserialize(stream, CoreJsonContext.Default.EntitlementsFile)
            ?? throw new FormatException("the file holds JSON null");
        var customers = new Dictionary<CustomerKey, EntitlementsStateDto>();
        for (var i = 0; i < file.Customers.Count; i++)
        {
            var entry = file.Customers[i];
            if (string.IsNullOrEmpty(entry.CustomerId))
            {
                throw new FormatException($"customers[{i}].customerId is missing");
            }

            var key = new CustomerKey(entry.CustomerId, string.IsNullOrEmpty(entry.ResourceId) ? null : entry.ResourceId);
            customers[key] = entry.EntitlementsState ?? throw new FormatException($"customers[{i}].entitlementsState is missing");
        }

        return customers;
    }

    private static bool SameJson(EntitlementsStateDto a, EntitlementsStateDto b) =>
        JsonSerializer.Serialize(a, CoreJsonContext.Default.EntitlementsStateDto) == JsonSerializer.Serialize(b, CoreJsonContext.Default.EntitlementsStateDto);
}

/// <summary>What a reload of the entitlements file changed.</summary>
internal sealed record FileChanges(IReadOnlyDictionary<CustomerKey, EntitlementsStateDto> Changed, IReadOnlyList<CustomerKey> Removed);
