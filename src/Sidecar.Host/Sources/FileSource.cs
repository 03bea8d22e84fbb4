using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
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
/// <para>
/// The file is streamed one customer at a time and each is kept as its snapshot (the one the hot tier holds too, so
/// a customer evicted by the budget is answered again from it), with repeated strings shared across customers, plus
/// a hash of its state for the reload diff. The parsed documents are not kept.
/// </para>
/// </summary>
internal sealed class FileSource : IEntitlementsSource
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _reloadLock = new();
    /// <summary>Customers handed from the reading thread to the mapping one at a time.</summary>
    private const int LoadBatchSize = 256;

    private Dictionary<CustomerKey, FileEntry> _customers;

    private FileSource(string path, Dictionary<CustomerKey, FileEntry> customers, ILogger logger, TimeProvider time)
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

    /// <summary>The file's customers as snapshots, mapped when the file was read.</summary>
    public IReadOnlyCollection<CustomerSnapshot> Snapshots => new SnapshotView(_customers);

    /// <summary>Loads the file; a file that cannot be read or parsed is a configuration error.</summary>
    public static FileSource Open(string path, ILogger logger, TimeProvider time)
    {
        try
        {
            return new FileSource(path, Load(path, previous: null, time.GetUtcNow().ToUnixTimeMilliseconds()), logger, time);
        }
        catch (Exception ex) when (ex is JsonException or IOException or FormatException)
        {
            throw new SettingsException($"ENTITLEMENTS_FILE: cannot load '{path}': {ex.Message}");
        }
    }

    public Task<CustomerSnapshot?> FetchAsync(CustomerKey key, bool fresh, CancellationToken cancellationToken)
    {
        var customers = _customers;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (customers.TryGetValue(key, out var entry))
        {
            // Confirmed now, as a fresh mapping of the file's entry would be.
            return Task.FromResult<CustomerSnapshot?>(entry.Snapshot.WithFetchedAt(now));
        }

        var reason = key.ResourceId is not null && customers.ContainsKey(key.Global) ? "CustomerResourceNotFound" : "CustomerNotFound";
        return Task.FromResult<CustomerSnapshot?>(EntitlementsStateMapper.ToSnapshot(key, new EntitlementsStateDto { AccessDeniedReason = reason }, now));
    }

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
            var old = _customers;
            Dictionary<CustomerKey, FileEntry> fresh;
            try
            {
                fresh = Load(Path, old, _time.GetUtcNow().ToUnixTimeMilliseconds());
            }
            catch (Exception ex) when (ex is JsonException or IOException or FormatException or UnauthorizedAccessException)
            {
                Log.EntitlementsFileInvalid(_logger, Path, ex.Message);
                return null;
            }

            var changed = new List<CustomerSnapshot>();
            foreach (var (key, entry) in fresh)
            {
                // An unchanged entry is the old one itself (Load reuses it), so the hot tier's copy stays shared.
                if (!old.TryGetValue(key, out var previous) || !ReferenceEquals(previous.Snapshot, entry.Snapshot))
                {
                    changed.Add(entry.Snapshot);
                }
            }

            var removed = old.Keys.Where(k => !fresh.ContainsKey(k)).ToList();
            _customers = fresh;
            Log.EntitlementsFileReloaded(_logger, fresh.Count, changed.Count, removed.Count);
            return new FileChanges(changed, removed);
        }
    }

    /// <summary>
    /// Reads the file into entries: streamed, one customer at a time; when the streaming reader meets anything it does
    /// not follow (a malformed file above all) the file is read again whole with the serializer, which gives the same
    /// error, at the same place, as it always has — or loads the unusual shape the same way as before.
    /// </summary>
    /// <param name="previous">The entries held now: a customer whose state hashes the same keeps its entry.</param>
    private static Dictionary<CustomerKey, FileEntry> Load(string path, IReadOnlyDictionary<CustomerKey, FileEntry>? previous, long now)
    {
        try
        {
            return LoadStreamed(path, previous, now);
        }
        catch (Exception)
        {
            // Whatever went wrong, the whole-file read below meets it again and reports it, or reads what the
            // streaming reader does not follow; errors are rare, so its memory cost is only paid then.
        }

        using var whole = new EntryBuilder(previous, now);
        var file = ReadWhole(path);
        for (var i = 0; i < file.Customers.Count; i++)
        {
            whole.Add(i, file.Customers[i]);
        }

        return whole.Customers;
    }

    /// <summary>
    /// Reads and parses on this thread while another validates, hashes and maps what it parsed: the two halves cost
    /// about the same, so a free second core takes half the work.
    /// </summary>
    private static Dictionary<CustomerKey, FileEntry> LoadStreamed(string path, IReadOnlyDictionary<CustomerKey, FileEntry>? previous, long now)
    {
        using var builder = new EntryBuilder(previous, now);
        var strings = new SnapshotInterner();
        using var stream = OpenRead(path);
        if (Environment.ProcessorCount < 2)
        {
            EntitlementsFileReader.Read(stream, strings, builder.Add);
            return builder.Customers;
        }

        using var batches = new BlockingCollection<(int First, FileCustomer[] Customers)>(boundedCapacity: 16);
        using var stop = new CancellationTokenSource();
        var mapper = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    foreach (var (first, customers) in batches.GetConsumingEnumerable(stop.Token))
                    {
                        for (var i = 0; i < customers.Length; i++)
                        {
                            builder.Add(first + i, customers[i]);
                        }
                    }
                }
                catch
                {
                    stop.Cancel(); // the reader stops at its next batch
                    throw;
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        Exception? readFailure = null;
        try
        {
            var batch = new List<FileCustomer>(LoadBatchSize);
            var first = 0;
            EntitlementsFileReader.Read(stream, strings, (index, customer) =>
            {
                if (batch.Count == 0)
                {
                    first = index;
                }

                batch.Add(customer);
                if (batch.Count == LoadBatchSize)
                {
                    batches.Add((first, batch.ToArray()), stop.Token);
                    batch.Clear();
                }
            });
            batches.Add((first, batch.ToArray()), stop.Token);
        }
        catch (Exception ex)
        {
            readFailure = ex;
            stop.Cancel();
        }

        // The mapper is always waited for, so nothing outlives the builder.
        batches.CompleteAdding();
        try
        {
            mapper.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (readFailure is not null)
        {
        }

        if (readFailure is not null)
        {
            ExceptionDispatchInfo.Throw(readFailure);
        }

        return builder.Customers;
    }

    private static EntitlementsFile ReadWhole(string path)
    {
        using var stream = OpenRead(path);
        return JsonSerializer.Deserialize(stream, CoreJsonContext.Default.EntitlementsFile)
            ?? throw new FormatException("the file holds JSON null");
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>One customer of the file: its snapshot and the hash of its state, which is all a reload compares.</summary>
    private readonly record struct FileEntry(CustomerSnapshot Snapshot, UInt128 StateHash);

    /// <summary>Validates, hashes and maps the customers of one read, sharing repeated strings between them.</summary>
    private sealed class EntryBuilder(IReadOnlyDictionary<CustomerKey, FileEntry>? previous, long now) : IDisposable
    {
        private readonly SnapshotInterner _interner = new();
        private readonly StateHasher _hasher = new();

        public Dictionary<CustomerKey, FileEntry> Customers { get; } = [];

        public void Add(int index, FileCustomer entry)
        {
            if (string.IsNullOrEmpty(entry.CustomerId))
            {
                throw new FormatException($"customers[{index}].customerId is missing");
            }

            var key = new CustomerKey(entry.CustomerId, string.IsNullOrEmpty(entry.ResourceId) ? null : entry.ResourceId);
            var state = entry.EntitlementsState ?? throw new FormatException($"customers[{index}].entitlementsState is missing");
            // A reload replaces the customers whose state would serialize differently (what it has always compared):
            // a reformatted file or reordered properties change nothing.
            var hash = _hasher.Hash(state);
            Customers[key] = previous is not null && previous.TryGetValue(key, out var held) && held.StateHash == hash
                ? held
                : new FileEntry(EntitlementsStateMapper.ToSnapshot(key, state, now, _interner), hash);
        }

        public void Dispose() => _hasher.Dispose();
    }

    /// <summary>The entries' snapshots, without copying them out.</summary>
    private sealed class SnapshotView(Dictionary<CustomerKey, FileEntry> customers) : IReadOnlyCollection<CustomerSnapshot>
    {
        public int Count => customers.Count;

        public IEnumerator<CustomerSnapshot> GetEnumerator()
        {
            foreach (var entry in customers.Values)
            {
                yield return entry.Snapshot;
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>What a reload of the entitlements file changed: the changed customers' new snapshots, the keys gone.</summary>
internal sealed record FileChanges(IReadOnlyList<CustomerSnapshot> Changed, IReadOnlyList<CustomerKey> Removed);
