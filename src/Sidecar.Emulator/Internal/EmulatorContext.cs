using Microsoft.Extensions.Logging;

namespace Sidecar.Emulator.Internal;

/// <summary>Everything the endpoints share; one per running emulator.</summary>
internal sealed class EmulatorContext
{
    public EmulatorContext(EmulatorOptions options, ILoggerFactory loggerFactory, CancellationToken stopping)
    {
        Options = options;
        Stopping = stopping;
        Counters = new CounterSet();
        Hub = new EventHub(Counters);
        State = new EmulatorState(Hub, Counters, options.Time);
        Faults = new FaultInjector();
        Logger = loggerFactory.CreateLogger("Sidecar.Emulator");
    }

    public EmulatorOptions Options { get; }

    public CounterSet Counters { get; }

    public EventHub Hub { get; }

    public EmulatorState State { get; }

    public FaultInjector Faults { get; }

    public ILogger Logger { get; }

    public TimeProvider Time => Options.Time;

    /// <summary>Signalled when the server begins to stop: ends sockets and injected delays.</summary>
    public CancellationToken Stopping { get; }

    /// <summary>
    /// An injected delay; false when it was cut short because the client went away or the server is stopping
    /// (the request is then abandoned rather than answered).
    /// </summary>
    public async Task<bool> DelayAsync(TimeSpan delay, CancellationToken requestAborted)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, Stopping);
        try
        {
            await Task.Delay(delay, Time, linked.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public bool RemoveCustomer(string customerId, string? resourceId)
    {
        var removed = State.Remove(customerId, resourceId);
        if (removed)
        {
            Log.AdminChange(Logger, "removed", resourceId is null ? customerId : customerId + "/" + resourceId);
        }

        return removed;
    }

    public void SetFaults(EmulatorFaults faults)
    {
        Faults.Set(faults);
        Log.FaultsSet(
            Logger, faults.EdgeStatus, faults.GraphQlStatus, faults.FailCount, faults.EdgeLatencyMs, faults.GraphQlLatencyMs, faults.WsRefuse,
            faults.EdgeConnection?.ToString(), faults.GraphQlConnection?.ToString());
    }

    public int DropWebSockets()
    {
        var count = Hub.AbortAll();
        Log.SocketsDropped(Logger, count);
        return count;
    }
}
