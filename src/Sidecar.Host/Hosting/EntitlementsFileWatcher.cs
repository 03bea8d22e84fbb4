using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Sidecar.Cache;
using Sidecar.Host.Sources;

namespace Sidecar.Host.Hosting;

/// <summary>
/// File mode: loads every customer of the entitlements file into the cache before the sidecar reports ready, then
/// re-reads the file when it changes and applies what changed. The file is the truth: a changed entry replaces what
/// is held even if its timestamps went backwards; an entry gone from the file is forgotten.
/// </summary>
internal sealed class EntitlementsFileWatcher(FileSource file, TieredEntitlementCache cache, TimeProvider time) : BackgroundService
{
    /// <summary>Editors write a file in several steps: wait for the burst to end before reading it.</summary>
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(100);

    private readonly Channel<bool> _changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await cache.ApplySnapshotsAsync(file.Snapshots).ConfigureAwait(false);

        // Reading the file allocated several times what it keeps (read buffers, per-customer documents): give that
        // back before serving. Left to the idle trim, it would count in its baseline and stay committed for good.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(file.Path)!, Path.GetFileName(file.Path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
        };
        watcher.Changed += (_, _) => _changes.Writer.TryWrite(true);
        watcher.Created += (_, _) => _changes.Writer.TryWrite(true);
        watcher.Renamed += (_, _) => _changes.Writer.TryWrite(true);
        watcher.EnableRaisingEvents = true;
        try
        {
            while (await _changes.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                await Task.Delay(Debounce, time, stoppingToken).ConfigureAwait(false);
                _changes.Reader.TryRead(out _);
                if (file.Reload() is { } changes)
                {
                    await ApplyAsync(changes).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task ApplyAsync(FileChanges changes)
    {
        foreach (var key in changes.Removed)
        {
            await cache.RemoveAsync(key).ConfigureAwait(false);
        }

        foreach (var snapshot in changes.Changed)
        {
            await cache.RemoveAsync(snapshot.Key).ConfigureAwait(false);
            await cache.ApplySnapshotAsync(snapshot).ConfigureAwait(false);
        }
    }
}
