namespace Sidecar.Emulator.Internal;

/// <summary>The three V2 subscriptions the Stigg SDK opens (stigg-behaviour §3.2).</summary>
internal enum SubscriptionKind : byte
{
    EntitlementsUpdated = 0,
    UsageUpdated = 1,
    PackagePublished = 2,
}

/// <summary>
/// Fans events out to every authenticated socket. One environment per emulator, so every socket that presented
/// the API key receives every event, as Stigg scopes events to the key's environment (§3.1).
/// </summary>
internal sealed class EventHub(CounterSet counters)
{
    private readonly Lock _gate = new();
    private readonly List<WsConnection> _connections = [];

    public void Register(WsConnection connection)
    {
        lock (_gate)
        {
            _connections.Add(connection);
        }
    }

    public void Unregister(WsConnection connection)
    {
        lock (_gate)
        {
            _connections.Remove(connection);
        }
    }

    /// <summary>
    /// Queues <paramref name="data"/> (the value of the GraphQL <c>data</c> field) on every matching subscription.
    /// Callers publish while holding the state lock, so every socket sees events in the order the state changed.
    /// </summary>
    public void Publish(SubscriptionKind kind, byte[] data)
    {
        counters.EventPublished();
        lock (_gate)
        {
            foreach (var connection in _connections)
            {
                connection.Deliver(kind, data);
            }
        }
    }

    /// <summary>Aborts every open socket without a close handshake (a network drop as the client sees it).</summary>
    public int AbortAll()
    {
        WsConnection[] all;
        lock (_gate)
        {
            all = [.. _connections];
        }

        foreach (var connection in all)
        {
            connection.Abort();
        }

        return all.Length;
    }
}
