using System.Collections.Concurrent;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Faster.Internal;

using Store = FasterKV<SpanByte, SpanByte>;

/// <summary>
/// FASTER sessions are single-threaded, so each operation rents one: a pooled session when one is free, else a new
/// one. At most a few per core are kept; the rest are disposed on return.
/// </summary>
internal sealed class SessionPool(Store store, ILogger logger) : IDisposable
{
    private readonly SnapshotFunctions _functions = new();
    private readonly ConcurrentQueue<SessionLease> _sessions = new();
    private readonly int _maxPooledSessions = Math.Max(4, Environment.ProcessorCount * 2);

    public SessionLease Rent() =>
        _sessions.TryDequeue(out var lease) ? lease : new SessionLease(store, _functions);

    public void Return(SessionLease lease, bool healthy)
    {
        // A session that saw an exception may hold half-finished pending state: drop it rather than reuse it.
        if (healthy && _sessions.Count < _maxPooledSessions)
        {
            _sessions.Enqueue(lease);
            return;
        }

        try
        {
            lease.Dispose();
        }
        catch (Exception ex)
        {
            Log.OperationFailed(logger, ex, "session dispose", string.Empty);
        }
    }

    /// <summary>Disposes the pooled sessions; callers must have returned every lease (the tier's gate is closed).</summary>
    public void Dispose()
    {
        while (_sessions.TryDequeue(out var lease))
        {
            lease.Dispose();
        }
    }
}
