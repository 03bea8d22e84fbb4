using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Host.Diagnostics;

namespace Sidecar.Host.Engine;

/// <summary>
/// Entitlements from a local JSON file (ENTITLEMENTS_FILE): Edge-shaped <c>entitlementsState</c> documents for many
/// customers. The file is re-read when it changes; a customer it does not list is answered as Stigg's Edge answers an
/// unknown one (CustomerNotFound). A file that stops parsing keeps the last good contents and logs why.
/// </summary>
internal sealed class FileSource : EntitlementsSource, IDisposable
{
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly FileSystemWatcher _watcher;
    private readonly Lock _reloadLock = new();
    private Dictionary<CustomerKey, EntitlementsStateDto> _customers;
    private Timer? _debounce;

    private FileSource(string path, Dictionary<CustomerKey, EntitlementsStateDto> customers, ILogger logger)
    {
        _path = path;
        _customers = customers;
        _logger = logger;
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
        };
        _watcher.Changed += (_, _) => ScheduleReload();
        _watcher.Created += (_, _) => ScheduleReload();
        _watcher.Renamed += (_, _) => ScheduleReload();
    }

    public override bool PushesAllChanges => true;

    /// <summary>Raised after a successful reload with the entries that changed and those that disappeared.</summary>
    public event Action<IReadOnlyDictionary<CustomerKey, EntitlementsStateDto>, IReadOnlyList<CustomerKey>>? Changed;

    public IReadOnlyDictionary<CustomerKey, EntitlementsStateDto> Customers => _customers;

    /// <summary>Loads the file; a file that cannot be read or parsed is a configuration error.</summary>
    public static FileSource Open(string path, ILogger logger)
    {
        try
        {
            return new FileSource(path, Parse(path), logger);
        }
        catch (Exception ex) when (ex is JsonException or IOException or FormatException)
        {
            throw new Configuration.SettingsException($"ENTITLEMENTS_FILE: cannot load '{path}': {ex.Message}");
        }
    }

    public void StartWatching() => _watcher.EnableRaisingEvents = true;

    public override Task<EntitlementsStateDto> FetchAsync(CustomerKey key, bool skipEdge, CancellationToken cancellationToken)
    {
        if (_customers.TryGetValue(key, out var state))
        {
            return Task.FromResult(state);
        }

        var reason = key.ResourceId is not null && _customers.ContainsKey(key.Global) ? "CustomerResourceNotFound" : "CustomerNotFound";
        return Task.FromResult(new EntitlementsStateDto { AccessDeniedReason = reason });
    }

    /// <summary>Re-reads the file now; returns false (and keeps the old contents) when it does not parse.</summary>
    public bool Reload()
    {
        lock (_reloadLock)
        {
            Dictionary<CustomerKey, EntitlementsStateDto> fresh;
            try
            {
                fresh = Parse(_path);
            }
            catch (Exception ex) when (ex is JsonException or IOException or FormatException or UnauthorizedAccessException)
            {
                Log.EntitlementsFileInvalid(_logger, _path, ex.Message);
                return false;
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
            if (changed.Count > 0 || removed.Count > 0)
            {
                Changed?.Invoke(changed, removed);
            }

            return true;
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _debounce?.Dispose();
    }

    private void ScheduleReload()
    {
        // Editors write a file in several steps; wait for the burst to end before reading it.
        var timer = new Timer(_ => Reload(), null, TimeSpan.FromMilliseconds(100), Timeout.InfiniteTimeSpan);
        Interlocked.Exchange(ref _debounce, timer)?.Dispose();
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
