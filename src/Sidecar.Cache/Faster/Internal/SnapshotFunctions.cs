using System.Buffers;
using FASTER.core;

namespace Sidecar.Cache.Faster.Internal;

/// <summary>A value copied out of the log into a pooled array; the reader returns the array once decoded.</summary>
internal struct ValueBuffer
{
    public byte[]? Array;
    public int Length;

    public readonly ReadOnlySpan<byte> Span => Array is null ? default : Array.AsSpan(0, Length);

    public void Return()
    {
        if (Array is { } array)
        {
            ArrayPool<byte>.Shared.Return(array);
            Array = null;
            Length = 0;
        }
    }
}

/// <summary>
/// FASTER callbacks for <c>SpanByte</c> keys and values (AOT-safe: no object log, no serializer). Writes never update
/// in place: a new version is appended and swapped into the index (read-copy-update), so a latch-free reader copying
/// a record can never see it half-overwritten.
/// </summary>
internal sealed class SnapshotFunctions : SpanByteFunctions<SpanByte, ValueBuffer, Empty>
{
    public override bool SingleReader(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref ValueBuffer dst, ref ReadInfo readInfo)
    {
        Copy(ref value, ref dst);
        return true;
    }

    public override bool ConcurrentReader(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref ValueBuffer dst, ref ReadInfo readInfo)
    {
        Copy(ref value, ref dst);
        return true;
    }

    // False makes FASTER append a new record instead of overwriting the mutable one (see the class remarks).
    public override bool ConcurrentWriter(ref SpanByte key, ref SpanByte input, ref SpanByte src, ref SpanByte dst, ref ValueBuffer output, ref UpsertInfo upsertInfo) => false;

    private static void Copy(ref SpanByte value, ref ValueBuffer dst)
    {
        var source = value.AsReadOnlySpan();
        dst.Return();
        var array = ArrayPool<byte>.Shared.Rent(Math.Max(source.Length, 1));
        source.CopyTo(array);
        dst.Array = array;
        dst.Length = source.Length;
    }
}
