namespace Sidecar.Upstream.Outbox.Internal;

/// <summary>
/// The outbox without a disk (<c>CACHE_PERSISTENCE=none</c>): the same order, limit and delivery, lost with the process.
/// </summary>
internal sealed class MemoryOutboxLog : OutboxLog
{
    private const int RecordHeaderBytes = 16;
    private readonly Queue<OutboxRecord> _records = new();
    private readonly Lock _gate = new();
    private long _tail = 64;

    public override int MaxAppendBytes => 16 * 1024 * 1024;

    public override int StoredBytes(int payloadLength) => payloadLength + RecordHeaderBytes;

    public override ValueTask AppendAsync(IReadOnlyList<byte[]> payloads, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            foreach (var payload in payloads)
            {
                var next = _tail + StoredBytes(payload.Length);
                _records.Enqueue(new OutboxRecord(_tail, next, payload));
                _tail = next;
            }
        }

        return ValueTask.CompletedTask;
    }

    public override IReadOnlyList<OutboxRecord> Read(int max)
    {
        lock (_gate)
        {
            return _records.Take(max).ToArray();
        }
    }

    public override ValueTask TruncateAsync(long untilAddress, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            while (_records.TryPeek(out var first) && first.Address < untilAddress)
            {
                _records.Dequeue();
            }
        }

        return ValueTask.CompletedTask;
    }

    public override void Dispose()
    {
    }
}
