using Sidecar.Core.Model;

namespace Sidecar.Upstream;

/// <summary>Where the <see cref="EventStream"/> is.</summary>
public enum EventStreamState
{
    Disconnected,
    Connecting,

    /// <summary>Acknowledged and subscribed: events flow.</summary>
    Connected,

    /// <summary>Stigg refused the API key; the stream stopped and will not reconnect.</summary>
    InvalidApiKey,
}

/// <summary>
/// What the host does with the stream's events. The delegates are called one at a time, in the order the events
/// arrived, on a task of their own (a slow handler never stalls the socket's keep-alive). An exception is logged and
/// the stream goes on. Unset delegates do nothing.
/// </summary>
public sealed record EventStreamHandlers
{
    /// <summary>
    /// A customer's whole entitlements state was replaced (§3.3). The snapshot's <c>FetchedAt</c> is when the event
    /// arrived; its <c>EntitlementsTimestamp</c> versions it against older writes.
    /// </summary>
    public Func<CustomerSnapshot, ValueTask> OnEntitlementsUpdated { get; init; } = static _ => default;

    /// <summary>
    /// Stigg's "forget this customer" (§3.3): an update with no entitlements and no access-denied reason. Drop the
    /// entry; the next check refetches it.
    /// </summary>
    public Func<CustomerKey, ValueTask> OnEntitlementsRemoved { get; init; } = static _ => default;

    /// <summary>An absolute usage value (SET semantics), versioned by <c>usageUpdatedAt</c> (§3.4).</summary>
    public Func<CustomerKey, UsageUpdate, ValueTask> OnUsageUpdated { get; init; } = static (_, _) => default;

    /// <summary>A package was published; the argument is true for <c>ALL_CUSTOMERS</c> migrations (§3.5).</summary>
    public Func<bool, ValueTask> OnPackagePublished { get; init; } = static _ => default;

    /// <summary>
    /// The socket is acknowledged and subscribed. <c>isReconnect</c> is true after a drop: events may have been missed,
    /// so cached entries need revalidating (DESIGN decision 4).
    /// </summary>
    public Func<bool, ValueTask> OnConnected { get; init; } = static _ => default;

    /// <summary>Called synchronously on every state change; keep it cheap (a gauge, a readiness flag).</summary>
    public Action<EventStreamState> OnStateChanged { get; init; } = static _ => { };
}
