using System.Buffers;
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
/// The file is streamed in batches of whole customers that one worker per core parses, hashes and maps; each customer
/// is kept as its snapshot (the one the hot tier holds too, so a customer evicted by the budget is answered again from
/// it), with repeated strings, entitlements and lists shared across customers, plus a hash of its state for the reload
/// diff. The parsed documents are not kept.
/// </para>
/// </summary>
internal sealed class FileSource : IEntitlementsSource
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _reloadLock = new();

    /// <summary>JSON handed from the reading thread to a load worker at a time (more when one customer is larger).</summary>
    private const int LoadBatchBytes = 256 * 1024;

    /// <summary>Load workers at most: each holds its own shared strings.</summary>
    private const int MaxLoadWorkers = 4;

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
            try
            {
                return LoadStreamed(path, previous, now, scanCustomers: true);
            }
            catch (ScanDeclinedException)
            {
                return LoadStreamed(path, previous, now, scanCustomers: false);
            }
        }
        catch (Exception)
        {
            // Whatever went wrong, the whole-file read below meets it again and reports it, or reads what the
            // streaming reader does not follow; errors are rare, so its memory cost is only paid then.
        }

        using var maker = new EntryMaker(previous, now);
        var file = ReadWhole(path);
        var customers = new Dictionary<CustomerKey, FileEntry>(file.Customers.Count);
        for (var i = 0; i < file.Customers.Count; i++)
        {
            var (key, entry) = maker.Make(i, file.Customers[i]);
            customers[key] = entry;
        }

        return customers;
    }

    /// <summary>
    /// Reads the file on this thread, cut into batches of whole customers' JSON, while workers (one per core) parse,
    /// hash and map the batches; their entries go into the dictionary here, in file order, so a customer listed twice
    /// keeps its last occurrence as before. Reading only finds where each customer ends: the workers have the cores.
    /// </summary>
    private static Dictionary<CustomerKey, FileEntry> LoadStreamed(string path, IReadOnlyDictionary<CustomerKey, FileEntry>? previous, long now, bool scanCustomers)
    {
        var customers = new Dictionary<CustomerKey, FileEntry>(previous?.Count ?? 0);
        var workerCount = Math.Clamp(Environment.ProcessorCount, 1, MaxLoadWorkers);
        using var work = new BlockingCollection<LoadBatch>(boundedCapacity: 2 * workerCount);
        using var stop = new CancellationTokenSource();
        var workers = new Task[workerCount];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Factory.StartNew(() => Work(work, stop, previous, now), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        // Batches handed out and not yet merged, in file order.
        var handedOut = new Queue<LoadBatch>();
        Exception? readFailure = null;
        try
        {
            using var stream = OpenRead(path);
            var batch = new LoadBatch(0, LoadBatchBytes);
            EntitlementsFileReader.Read(
                stream,
                (index, json) =>
                {
                    if (!batch.TryAdd(json))
                    {
                        HandOut(batch);
                        batch = new LoadBatch(index, Math.Max(LoadBatchBytes, json.Length));
                        batch.TryAdd(json);
                    }
                },
                scanCustomers);
            HandOut(batch);
        }
        catch (Exception ex)
        {
            readFailure = ex;
            stop.Cancel();
        }

        // The workers are always waited for: they finish (or drop) every batch handed out, so none is left waiting.
        work.CompleteAdding();
        Task.WaitAll(workers);
        if (readFailure is not null)
        {
            ExceptionDispatchInfo.Throw(readFailure);
        }

        Merge(wait: true);
        return customers;

        void HandOut(LoadBatch batch)
        {
            handedOut.Enqueue(batch);
            work.Add(batch, stop.Token);
            Merge(wait: false);
        }

        void Merge(bool wait)
        {
            while (handedOut.TryPeek(out var batch) && (wait || batch.IsFinished))
            {
                foreach (var (key, entry) in batch.Finished())
                {
                    customers[key] = entry;
                }

                handedOut.Dequeue();
            }
        }
    }

    /// <summary>One load worker: parses, hashes and maps whole batches, sharing repeated strings within its own batches.</summary>
    private static void Work(BlockingCollection<LoadBatch> work, CancellationTokenSource stop, IReadOnlyDictionary<CustomerKey, FileEntry>? previous, long now)
    {
        using var maker = new EntryMaker(previous, now);
        foreach (var batch in work.GetConsumingEnumerable())
        {
            if (stop.IsCancellationRequested)
            {
                batch.Finish(null, new OperationCanceledException());
                continue;
            }

            try
            {
                batch.Finish(maker.MakeAll(batch), null);
            }
            catch (Exception ex)
            {
                stop.Cancel(); // the reader stops at its next batch; the other workers drop theirs
                batch.Finish(null, ex);
            }
        }
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

    /// <summary>
    /// Validates, hashes and maps customers, sharing repeated strings between them. One per thread (the interner and the
    /// hasher are not thread-safe; <paramref name="previous"/> is only read).
    /// </summary>
    private sealed class EntryMaker(IReadOnlyDictionary<CustomerKey, FileEntry>? previous, long now) : IDisposable
    {
        /// <summary>States already mapped, by hash: enough for every plan's, bounded against millions of distinct ones.</summary>
        private const int MaxMappedStates = 1 << 16;

        private readonly SnapshotInterner _interner = new();
        private readonly StateHasher _hasher = new();
        private readonly ParseScratch _scratch = new();
        private readonly Dictionary<UInt128, CustomerSnapshot> _mapped = [];

        public (CustomerKey Key, FileEntry Entry) Make(int index, FileCustomer? entry)
        {
            // JSON null in the array (the whole-file read gives it through): a configuration error, not a crash.
            if (entry is null)
            {
                throw new FormatException($"customers[{index}] is null");
            }

            if (string.IsNullOrEmpty(entry.CustomerId))
            {
                throw new FormatException($"customers[{index}].customerId is missing");
            }

            var key = new CustomerKey(entry.CustomerId, string.IsNullOrEmpty(entry.ResourceId) ? null : entry.ResourceId);
            var state = entry.EntitlementsState ?? throw new FormatException($"customers[{index}].entitlementsState is missing");
            // A reload replaces the customers whose state would serialize differently (what it has always compared):
            // a reformatted file or reordered properties change nothing.
            var hash = _hasher.Hash(state);
            if (previous is not null && previous.TryGetValue(key, out var held) && held.StateHash == hash)
            {
                return (key, held);
            }

            // Customers whose states are the same (a plan's customers without usage of their own) map to the same
            // snapshot but for the key: map it once.
            if (_mapped.TryGetValue(hash, out var same))
            {
                return (key, new FileEntry(same.ForCustomer(key), hash));
            }

            var snapshot = EntitlementsStateMapper.ToSnapshot(key, state, now, _interner);
            if (_mapped.Count < MaxMappedStates)
            {
                _mapped.Add(hash, snapshot);
            }

            return (key, new FileEntry(snapshot, hash));
        }

        /// <summary>The batch's customers, parsed (by the serializer when the fast parser declines one) and made entries.</summary>
        public (CustomerKey Key, FileEntry Entry)[] MakeAll(LoadBatch batch)
        {
            var entries = new (CustomerKey Key, FileEntry Entry)[batch.Count];
            for (var i = 0; i < entries.Length; i++)
            {
                var json = batch.Customer(i);
                // Parsed into the same DTOs each time: they are done with when Make returns.
                var customer = FileCustomerParser.TryParse(json, _interner, _scratch) ?? JsonSerializer.Deserialize(json, CoreJsonContext.Default.FileCustomer)!;
                entries[i] = Make(batch.FirstIndex + i, customer);
            }

            return entries;
        }

        public void Dispose() => _hasher.Dispose();
    }

    /// <summary>
    /// Consecutive customers' JSON, copied out of the read buffer into a pooled one, and what a worker made of them.
    /// The reader fills it; a worker finishes it; the reader merges it.
    /// </summary>
    private sealed class LoadBatch(int firstIndex, int capacity)
    {
        private readonly List<int> _ends = [];
        private readonly object _gate = new(); // a Monitor: Wait/PulseAll
        private byte[]? _bytes = ArrayPool<byte>.Shared.Rent(capacity);
        private int _length;
        private (CustomerKey Key, FileEntry Entry)[]? _entries;
        private Exception? _error;
        private volatile bool _finished;

        /// <summary>The index in the file's array of the batch's first customer.</summary>
        public int FirstIndex { get; } = firstIndex;

        public int Count => _ends.Count;

        public bool IsFinished => _finished;

        /// <summary>Appends a customer's JSON; false when it does not fit.</summary>
        public bool TryAdd(ReadOnlySpan<byte> json)
        {
            if (_length + json.Length > _bytes!.Length)
            {
                return false;
            }

            json.CopyTo(_bytes.AsSpan(_length));
            _length += json.Length;
            _ends.Add(_length);
            return true;
        }

        public ReadOnlySpan<byte> Customer(int i) => _bytes.AsSpan()[(i == 0 ? 0 : _ends[i - 1]).._ends[i]];

        /// <summary>Called by the worker: the entries made (or why not); the JSON is given back to the pool.</summary>
        public void Finish((CustomerKey Key, FileEntry Entry)[]? entries, Exception? error)
        {
            ArrayPool<byte>.Shared.Return(_bytes!);
            _bytes = null;
            lock (_gate)
            {
                _entries = entries;
                _error = error;
                _finished = true;
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>Waits for the worker; its entries, or its error thrown.</summary>
        public (CustomerKey Key, FileEntry Entry)[] Finished()
        {
            lock (_gate)
            {
                while (!_finished)
                {
                    Monitor.Wait(_gate);
                }
            }

            if (_error is not null)
            {
                ExceptionDispatchInfo.Throw(_error);
            }

            return _entries!;
        }
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
