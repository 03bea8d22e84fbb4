using System.Collections.Concurrent;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// Traffic counters, lock-free on the request path. Waiters (<see cref="WaitAsync"/>) are woken on every change so
/// tests can wait for "the sidecar subscribed" or "the Edge was called" without sleeping.
/// </summary>
internal sealed class CounterSet
{
    private readonly ConcurrentDictionary<string, StrongBox> _edgeByCustomer = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox> _graphQlByOperation = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox> _usageByKey = new(StringComparer.Ordinal);
    private long _usageApplied;
    private long _usageReplayed;
    private long _edgeRequests;
    private long _sdkConfigurationRequests;
    private long _graphQlRequests;
    private long _wsConnectionsOpened;
    private long _wsOpenConnections;
    private long _wsSubscribers;
    private long _eventsPublished;
    private long _usageChanges;
    private long _eventsRecorded;
    private long _faultsInjected;
    private long _authFailures;
    private int _waiters;
    private TaskCompletionSource _changed = NewSignal();

    public void EdgeRequest(string customerId)
    {
        Interlocked.Increment(ref _edgeRequests);
        Interlocked.Increment(ref _edgeByCustomer.GetOrAdd(customerId, static _ => new StrongBox()).Value);
        Changed();
    }

    public void SdkConfigurationRequest() => Bump(ref _sdkConfigurationRequests);

    public void GraphQlRequest(string operation)
    {
        Interlocked.Increment(ref _graphQlRequests);
        Interlocked.Increment(ref _graphQlByOperation.GetOrAdd(operation, static _ => new StrongBox()).Value);
        Changed();
    }

    public void WsOpened()
    {
        Interlocked.Increment(ref _wsConnectionsOpened);
        Bump(ref _wsOpenConnections);
    }

    public void WsClosed() => Add(ref _wsOpenConnections, -1);

    public void WsSubscribersChanged(int delta) => Add(ref _wsSubscribers, delta);

    public void EventPublished() => Bump(ref _eventsPublished);

    public void UsageChanged() => Bump(ref _usageChanges);

    public void EventRecorded() => Bump(ref _eventsRecorded);

    public void FaultInjected() => Bump(ref _faultsInjected);

    public void AuthFailure() => Bump(ref _authFailures);

    /// <summary>A usage measurement was applied (with its idempotency key, when it had one).</summary>
    public void UsageMeasurementApplied(string? idempotencyKey)
    {
        if (idempotencyKey is { Length: > 0 } key)
        {
            Interlocked.Increment(ref _usageByKey.GetOrAdd(key, static _ => new StrongBox()).Value);
        }

        Bump(ref _usageApplied);
    }

    /// <summary>A usage measurement was answered from an earlier one with the same idempotency key.</summary>
    public void UsageMeasurementReplayed() => Bump(ref _usageReplayed);

    /// <summary>Zeroes the cumulative counters; the gauges (open sockets, subscribers) keep their values.</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref _edgeRequests, 0);
        Interlocked.Exchange(ref _sdkConfigurationRequests, 0);
        Interlocked.Exchange(ref _graphQlRequests, 0);
        Interlocked.Exchange(ref _wsConnectionsOpened, 0);
        Interlocked.Exchange(ref _eventsPublished, 0);
        Interlocked.Exchange(ref _usageChanges, 0);
        Interlocked.Exchange(ref _eventsRecorded, 0);
        Interlocked.Exchange(ref _faultsInjected, 0);
        Interlocked.Exchange(ref _authFailures, 0);
        Interlocked.Exchange(ref _usageApplied, 0);
        Interlocked.Exchange(ref _usageReplayed, 0);
        _edgeByCustomer.Clear();
        _graphQlByOperation.Clear();
        _usageByKey.Clear();
        Changed();
    }

    public EmulatorCounters Snapshot() => new()
    {
        EdgeRequests = Interlocked.Read(ref _edgeRequests),
        EdgeRequestsByCustomer = Copy(_edgeByCustomer),
        SdkConfigurationRequests = Interlocked.Read(ref _sdkConfigurationRequests),
        GraphQlRequests = Interlocked.Read(ref _graphQlRequests),
        GraphQlRequestsByOperation = Copy(_graphQlByOperation),
        WsConnectionsOpened = Interlocked.Read(ref _wsConnectionsOpened),
        WsOpenConnections = Interlocked.Read(ref _wsOpenConnections),
        WsSubscribers = Interlocked.Read(ref _wsSubscribers),
        EventsPublished = Interlocked.Read(ref _eventsPublished),
        UsageChanges = Interlocked.Read(ref _usageChanges),
        EventsRecorded = Interlocked.Read(ref _eventsRecorded),
        FaultsInjected = Interlocked.Read(ref _faultsInjected),
        AuthFailures = Interlocked.Read(ref _authFailures),
        UsageMeasurementsApplied = Interlocked.Read(ref _usageApplied),
        UsageMeasurementsReplayed = Interlocked.Read(ref _usageReplayed),
        UsageAppliedByIdempotencyKey = Copy(_usageByKey),
    };

    /// <summary>Completes with the first snapshot that satisfies <paramref name="condition"/>.</summary>
    public async Task<EmulatorCounters> WaitAsync(Func<EmulatorCounters, bool> condition, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiters);
        try
        {
            while (true)
            {
                // Take the signal before the snapshot so a change in between is not missed.
                var signal = Volatile.Read(ref _changed);
                var snapshot = Snapshot();
                if (condition(snapshot))
                {
                    return snapshot;
                }

                await signal.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    private void Bump(ref long counter)
    {
        Interlocked.Increment(ref counter);
        Changed();
    }

    private void Add(ref long counter, long delta)
    {
        Interlocked.Add(ref counter, delta);
        Changed();
    }

    private void Changed()
    {
        if (Volatile.Read(ref _waiters) > 0)
        {
            Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static Dictionary<string, long> Copy(ConcurrentDictionary<string, StrongBox> source)
    {
        var copy = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (key, box) in source)
        {
            copy[key] = Interlocked.Read(ref box.Value);
        }

        return copy;
    }

    private sealed class StrongBox
    {
        public long Value;
    }
}
