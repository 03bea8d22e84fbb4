using System.Buffers.Binary;
using System.Text;

namespace Sidecar.Cache.Faster.Internal;

/// <summary>
/// Writes the snapshot codec's primitives — fixed-width little-endian numbers, LEB128 varints (zig-zag for signed
/// values) and varint-length-prefixed UTF-8 strings — into a span sized beforehand with the matching <c>…Size</c>
/// methods, so encoding never grows or checks a buffer.
/// </summary>
internal ref struct SpanWriter(Span<byte> buffer)
{
    private readonly Span<byte> _buffer = buffer;
    private int _position;

    public readonly int Position => _position;

    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    public static int VarUIntSize(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    public static int VarLongSize(long value) => VarUIntSize(ZigZag(value));

    public static int OptionalLongSize(long? value) => value is { } v ? VarLongSize(v) : 0;

    public static int StringSize(string value)
    {
        var bytes = Encoding.UTF8.GetByteCount(value);
        return VarUIntSize((uint)bytes) + bytes;
    }

    public static int OptionalStringSize(string? value) => value is null ? 0 : StringSize(value);

    public void Byte(byte value) => _buffer[_position++] = value;

    public void Fixed64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer[_position..], value);
        _position += sizeof(long);
    }

    public void Double(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_buffer[_position..], value);
        _position += sizeof(double);
    }

    public void VarUInt(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer[_position++] = (byte)(value | 0x80);
            value >>= 7;
        }

        _buffer[_position++] = (byte)value;
    }

    public void VarLong(long value) => VarUInt(ZigZag(value));

    public void String(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        VarUInt((uint)length);
        _position += Encoding.UTF8.GetBytes(value, _buffer.Slice(_position, length));
    }

    public void OptionalString(string? value)
    {
        if (value is not null)
        {
            String(value);
        }
    }
}
