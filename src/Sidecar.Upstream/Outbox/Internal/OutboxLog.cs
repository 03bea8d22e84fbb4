namespace Sidecar.Upstream.Outbox.Internal;

/// <summary>One stored record: its address, where the next one starts, and its bytes (null: an unreadable region).</summary>
internal readonly record struct OutboxRecord(long Address, long NextAddress, byte[]? Payload);

/// <summary>
/// Where the outbox keeps its entries, in order: FASTER's log on disk (<see cref="FasterOutboxLog"/>) or a queue in
/// memory (<see cref="MemoryOutboxLog"/>). Addresses grow monotonically; <see cref="StoredBytes"/> of a record is what
/// it counts against the size limit.
/// </summary>
internal abstract class OutboxLog : IDisposable
{
    /// <summary>Bytes a payload occupies in the log (header and alignment included).</summary>
    public abstract int StoredBytes(int payloadLength);

    /// <summary>The largest payload one append can take (all payloads of one append together).</summary>
    public abstract int MaxAppendBytes { get; }

    /// <summary>
    /// Appends the payloads as one atomic unit and returns once they are durable (what "durable" means is the
    /// implementation's): after a crash either all of them are there or none.
    /// </summary>
    public abstract ValueTask AppendAsync(IReadOnlyList<byte[]> payloads, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> durable records from the oldest one on.</summary>
    public abstract IReadOnlyList<OutboxRecord> Read(int max);

    /// <summary>Drops every record before <paramref name="untilAddress"/>, durably.</summary>
    public abstract ValueTask TruncateAsync(long untilAddress, CancellationToken cancellationToken);

    public abstract void Dispose();
}
