using Sidecar.Core.Model;

namespace Sidecar.Cache;

/// <summary>
/// Coordinates a miss's fetch across sidecars that share a tier, below the cache's in-process single-flight: the
/// Redis coordinator lets one sidecar fetch and the others read what it stored. <see cref="None"/> fetches directly.
/// </summary>
public interface IFetchCoordinator
{
    /// <summary>Fetches directly: one sidecar, or no shared tier.</summary>
    static IFetchCoordinator None { get; } = new Direct();

    /// <summary>
    /// Runs <paramref name="fetch"/> (a source fetch) or obtains its result from another sidecar. A coordinator that
    /// shares a tier stores the fetched snapshot in it before telling the others.
    /// </summary>
    Task<CustomerSnapshot> FetchOnceAsync(CustomerKey key, Func<CancellationToken, Task<CustomerSnapshot>> fetch, CancellationToken cancellationToken);

    /// <summary>The tier this coordinator stores fetched snapshots in itself (the cache skips it on write-back).</summary>
    ISnapshotTier? SharedTier { get; }

    private sealed class Direct : IFetchCoordinator
    {
        public ISnapshotTier? SharedTier => null;

        public Task<CustomerSnapshot> FetchOnceAsync(CustomerKey key, Func<CancellationToken, Task<CustomerSnapshot>> fetch, CancellationToken cancellationToken) =>
            fetch(cancellationToken);
    }
}
