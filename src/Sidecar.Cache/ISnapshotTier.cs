using Sidecar.Core.Model;

namespace Sidecar.Cache;

/// <summary>
/// A persistent tier below the in-process hot tier: FASTER (embedded, the default) or Redis (shared, Stigg's
/// layout). The read path asks the tiers in order and never sees which one answered. Every method is safe to call
/// concurrently, never throws for an unavailable backend (it logs and answers as a miss / no-op), and applies the
/// timestamp guards of DESIGN decision 2 itself.
/// </summary>
public interface ISnapshotTier : IAsyncDisposable
{
    /// <summary>Short name for logs and metrics ("faster", "redis").</summary>
    string Name { get; }

    /// <summary>The stored snapshot, or null on a miss (or when the backend is down).</summary>
    ValueTask<CustomerSnapshot?> ReadAsync(CustomerKey key, CancellationToken cancellationToken);

    /// <summary>Stores a whole snapshot unless the tier already holds a newer entitlements timestamp.</summary>
    ValueTask WriteAsync(CustomerSnapshot snapshot, CancellationToken cancellationToken);

    /// <summary>
    /// Applies an absolute usage value to a stored customer. Skipped when the customer is not stored or the stored
    /// usage is newer than <see cref="UsageUpdate.Timestamp"/>.
    /// </summary>
    ValueTask WriteUsageAsync(CustomerKey key, UsageUpdate update, CancellationToken cancellationToken);

    /// <summary>Removes a customer entry (purge events).</summary>
    ValueTask RemoveAsync(CustomerKey key, CancellationToken cancellationToken);
}
