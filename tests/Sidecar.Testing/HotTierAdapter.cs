using Sidecar.Cache;
using Sidecar.Cache.Hot;
using Sidecar.Core.Model;

namespace Sidecar.Testing;

/// <summary>
/// The synchronous in-process <see cref="HotTier"/> seen as an <see cref="ISnapshotTier"/>, so the tier contract
/// runs against it too. Every call also checks what the hot tier's own API answers against what it then holds:
/// <see cref="HotTier.Set"/> returns the snapshot now held, <see cref="HotTier.ApplyUsage"/> returns the updated
/// snapshot, or null exactly when nothing changed (not held, stale, or unknown feature), and
/// <see cref="HotTier.Remove"/> returns whether something was held.
/// </summary>
public sealed class HotTierAdapter(HotTier hot) : ISnapshotTier
{
    public HotTierAdapter()
        : this(new HotTier(64L << 20))
    {
    }

    public HotTier Hot { get; } = hot;

    public string Name => "hot";

    public ValueTask<CustomerSnapshot?> ReadAsync(CustomerKey key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Hot.TryGet(key, out var snapshot) ? snapshot : null);

    public ValueTask WriteAsync(CustomerSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var held = Hot.Set(snapshot);
        Assert.True(Hot.TryGet(snapshot.Key, out var now), "Set: the customer is not held afterwards");
        Assert.Same(held, now);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteUsageAsync(CustomerKey key, UsageUpdate update, CancellationToken cancellationToken)
    {
        var wasHeld = Hot.TryGet(key, out var before);
        var updated = Hot.ApplyUsage(key, update);
        var isHeld = Hot.TryGet(key, out var after);
        Assert.Equal(wasHeld, isHeld);
        if (updated is null)
        {
            // Skipped: nothing changed.
            Assert.Same(before, after);
        }
        else
        {
            Assert.Same(updated, after);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask RemoveAsync(CustomerKey key, CancellationToken cancellationToken)
    {
        var wasHeld = Hot.TryGet(key, out _);
        Assert.Equal(wasHeld, Hot.Remove(key));
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
