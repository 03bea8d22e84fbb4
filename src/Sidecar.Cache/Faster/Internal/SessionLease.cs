using System.Text;
using FASTER.core;
using Sidecar.Core.Model;

namespace Sidecar.Cache.Faster.Internal;

using Session = ClientSession<SpanByte, SpanByte, SpanByte, ValueBuffer, Empty, SnapshotFunctions>;
using Store = FasterKV<SpanByte, SpanByte>;

/// <summary>
/// One FASTER client session (single-threaded by design) plus pinned scratch buffers for the key and value bytes.
/// A lease is used by one operation at a time: rented from the tier's pool, returned when the operation ends.
/// </summary>
internal sealed class SessionLease : IDisposable
{
    private byte[] _key = GC.AllocateUninitializedArray<byte>(128, pinned: true);
    private byte[] _value = GC.AllocateUninitializedArray<byte>(4096, pinned: true);
    private int _keyLength;
    private int _valueLength;

    public SessionLease(Store store, SnapshotFunctions functions)
    {
        Session = store.For(functions).NewSession<SnapshotFunctions>();
    }

    public Session Session { get; }

    /// <summary>Encodes the FASTER key: UTF-8 of <see cref="CustomerKey.ToString"/> (<c>c_{customer}[:r_{resource}]</c>).</summary>
    public void SetKey(CustomerKey key)
    {
        var length = KeyLength(key);
        if (_key.Length < length)
        {
            _key = GC.AllocateUninitializedArray<byte>((int)FasterTierOptions.NextPowerOfTwo(length), pinned: true);
        }

        _keyLength = WriteKey(key, _key);
    }

    public void SetValue(CustomerSnapshot snapshot)
    {
        var length = SnapshotCodec.GetSize(snapshot);
        if (_value.Length < length)
        {
            _value = GC.AllocateUninitializedArray<byte>((int)FasterTierOptions.NextPowerOfTwo(length), pinned: true);
        }

        _valueLength = SnapshotCodec.Encode(snapshot, _value);
    }

    /// <summary>Reads the current key; a record on disk completes asynchronously without blocking a thread.</summary>
    /// <returns>The value (the caller returns its buffer), or default when the key is absent.</returns>
    public async ValueTask<ValueBuffer> ReadCurrentAsync()
    {
        var status = Read(out var output);
        if (status.IsPending)
        {
            // One operation per session at a time, so the iterator yields exactly this read.
            using var completed = await Session.CompletePendingWithOutputsAsync().ConfigureAwait(false);
            status = default;
            while (completed.Next())
            {
                status = completed.Current.Status;
                output = completed.Current.Output;
            }
        }

        if (status.Found)
        {
            return output;
        }

        output.Return();
        if (status.IsFaulted)
        {
            throw new IOException("FASTER reported an error reading the record (log I/O failed).");
        }

        return default;
    }

    /// <summary>
    /// Upserts the current key and value. The buffers are pinned for the lease's lifetime, and FASTER copies them
    /// before going asynchronous (waiting for a page flush), so nothing here outlives the call.
    /// </summary>
    public async ValueTask UpsertCurrentAsync()
    {
        var result = await Upsert().ConfigureAwait(false);
        while (result.Status.IsPending)
        {
            result = await result.CompleteAsync().ConfigureAwait(false);
        }

        if (result.Status.IsFaulted)
        {
            throw new IOException("FASTER reported an error writing the record.");
        }
    }

    public async ValueTask DeleteCurrentAsync()
    {
        var result = await Delete().ConfigureAwait(false);
        while (result.Status.IsPending)
        {
            result = await result.CompleteAsync().ConfigureAwait(false);
        }

        if (result.Status.IsFaulted)
        {
            throw new IOException("FASTER reported an error deleting the record.");
        }
    }

    public void Dispose() => Session.Dispose();

    internal static int KeyLength(CustomerKey key) =>
        2 + Encoding.UTF8.GetByteCount(key.CustomerId) + (key.ResourceId is null ? 0 : 3 + Encoding.UTF8.GetByteCount(key.ResourceId));

    internal static int WriteKey(CustomerKey key, Span<byte> destination)
    {
        "c_"u8.CopyTo(destination);
        var length = 2 + Encoding.UTF8.GetBytes(key.CustomerId, destination[2..]);
        if (key.ResourceId is { } resource)
        {
            ":r_"u8.CopyTo(destination[length..]);
            length += 3;
            length += Encoding.UTF8.GetBytes(resource, destination[length..]);
        }

        return length;
    }

    private Status Read(out ValueBuffer output)
    {
        var key = SpanByte.FromFixedSpan(_key.AsSpan(0, _keyLength));
        SpanByte input = default;
        output = default;
        return Session.Read(ref key, ref input, ref output);
    }

    private ValueTask<Store.UpsertAsyncResult<SpanByte, ValueBuffer, Empty>> Upsert()
    {
        var key = SpanByte.FromFixedSpan(_key.AsSpan(0, _keyLength));
        var value = SpanByte.FromFixedSpan(_value.AsSpan(0, _valueLength));
        return Session.UpsertAsync(ref key, ref value);
    }

    private ValueTask<Store.DeleteAsyncResult<SpanByte, ValueBuffer, Empty>> Delete()
    {
        var key = SpanByte.FromFixedSpan(_key.AsSpan(0, _keyLength));
        return Session.DeleteAsync(ref key);
    }
}
