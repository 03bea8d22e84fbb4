using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Faster.Internal;

using Store = FasterKV<SpanByte, SpanByte>;

/// <summary>
/// One opened FASTER store — a generation directory of the tier (<see cref="StoreLayout"/>) with its sessions,
/// maintenance and the gate that close waits on. A store whose disk failed is <see cref="Faulted"/>: FASTER cannot
/// persist past a failed flush, so it takes no more operations and the tier replaces it with a new generation once the
/// disk works again.
/// </summary>
internal sealed class FasterStore : IDisposable
{
    private readonly CancellationTokenSource _faulted = new();
    private readonly Action<FasterStore, string> _onFault;
    private readonly ILogger _logger;
    private string? _fault;

    /// <summary>Creates the store on <paramref name="layout"/>'s files (empty until <see cref="RecoverAsync"/>).</summary>
    public FasterStore(StoreLayout layout, FasterTierOptions options, ILogger logger, TimeProvider time, Action<FasterStore, string> onFault)
    {
        Layout = layout;
        _onFault = onFault;
        _logger = logger;
        Parts = StoreParts.Create(options, layout, new FaultWatchLogger(logger, layout.Log, cause => TryFault(cause)));
        Sessions = new SessionPool(Parts.Store, logger);
        Maintenance = new FasterMaintenance(this, options, logger, time);
    }

    public StoreLayout Layout { get; }

    public StoreParts Parts { get; }

    public Store Kv => Parts.Store;

    public SessionPool Sessions { get; }

    public FasterMaintenance Maintenance { get; }

    public ActivityGate Gate { get; } = new();

    /// <summary>Why this store stopped persisting, or null while it works.</summary>
    public string? Fault => Volatile.Read(ref _fault);

    public bool Faulted => Fault is not null;

    /// <summary>Cancelled when the store faults, so operations waiting on FASTER (a write waiting for a flush that will never come) give up.</summary>
    public CancellationToken FaultedToken => _faulted.Token;

    /// <summary>Recovers the checkpoint <paramref name="manifest"/> describes (verified by the caller); returns its version.</summary>
    public async Task<long> RecoverAsync(CheckpointManifest manifest, CancellationToken cancellationToken)
    {
        var version = await Kv.RecoverAsync(manifest.Token, manifest.Token, cancellationToken: cancellationToken).ConfigureAwait(false);
        Kv.DisposeRecoverableSessions();
        Maintenance.Recovered(manifest);
        return version;
    }

    /// <summary>Marks the store faulted; the first cause is reported to the tier, later ones are ignored.</summary>
    public bool TryFault(string cause)
    {
        if (Interlocked.CompareExchange(ref _fault, cause, null) is not null)
        {
            return false;
        }

        // Off the caller's thread: FASTER reports from its I/O callback, and waiting operations resume on cancel.
        ThreadPool.UnsafeQueueUserWorkItem(
            static cts =>
            {
                try
                {
                    cts.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // Closed meanwhile: nothing waits any more.
                }
            },
            _faulted,
            preferLocal: false);
        _onFault(this, cause);
        return true;
    }

    /// <summary>
    /// Disposes sessions, maintenance and files. A faulted store may have FASTER waiting on a flush forever, so the
    /// tier runs this off the shutdown path for such a store.
    /// </summary>
    public void Dispose()
    {
        try
        {
            Sessions.Dispose();
            Parts.Dispose();
        }
        catch (Exception ex)
        {
            Log.DisposeFailed(_logger, ex);
        }
        finally
        {
            Maintenance.Dispose();
            _faulted.Dispose();
        }
    }
}
