namespace Sidecar.Upstream.Outbox;

/// <summary>
/// The outbox holds <see cref="UsageOutbox.CapacityBytes"/> of undelivered reports and cannot accept more: nothing was
/// stored, nothing was dropped. The gRPC layer answers <c>RESOURCE_EXHAUSTED</c>; the caller may retry later.
/// </summary>
public sealed class UsageOutboxFullException : Exception
{
    public UsageOutboxFullException(long heldBytes, long capacityBytes, int requestedBytes)
        : base($"The usage outbox is full ({heldBytes} of {capacityBytes} bytes held; {requestedBytes} more requested): Stigg has been unreachable for too long. Retry later.")
    {
        HeldBytes = heldBytes;
        CapacityBytes = capacityBytes;
    }

    public UsageOutboxFullException()
        : this("The usage outbox is full.")
    {
    }

    public UsageOutboxFullException(string message)
        : base(message)
    {
    }

    public UsageOutboxFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public long HeldBytes { get; }

    public long CapacityBytes { get; }
}
