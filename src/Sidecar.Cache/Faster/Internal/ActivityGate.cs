namespace Sidecar.Cache.Faster.Internal;

/// <summary>
/// Counts operations in flight so shutdown can wait for them: after <see cref="CloseAsync"/> no new operation
/// enters, and the returned task completes when the last one has left.
/// </summary>
internal sealed class ActivityGate
{
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _active;
    private int _closed;

    public bool TryEnter()
    {
        Interlocked.Increment(ref _active);
        if (Volatile.Read(ref _closed) == 0)
        {
            return true;
        }

        Exit();
        return false;
    }

    public void Exit()
    {
        if (Interlocked.Decrement(ref _active) == 0 && Volatile.Read(ref _closed) != 0)
        {
            _idle.TrySetResult();
        }
    }

    public Task CloseAsync()
    {
        // Interlocked (a full fence) so the read of _active below cannot move before the write of _closed.
        Interlocked.Exchange(ref _closed, 1);
        if (Volatile.Read(ref _active) == 0)
        {
            _idle.TrySetResult();
        }

        return _idle.Task;
    }
}
