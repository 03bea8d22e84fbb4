using System.Buffers.Binary;
using System.Text;

namespace Sidecar.Cache.Faster.Internal;

/// <summary>
/// Reads what <see cref="SpanWriter"/> writes, strictly: a value that runs past the end, an overlong or out-of-range
/// varint, a count larger than the bytes left, or invalid UTF-8 throws <see cref="SnapshotFormatException"/> — never
/// another exception, whatever the bytes.
/// </summary>
internal ref struct SpanReader(ReadOnlySpan<byte> data)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool End => _position == _data.Length;

    public readonly int Remaining => _data.Length - _position;

    /// <summary>Offset of the next byte, for error messages.</summary>
    public readonly int Position => _position;

    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    public byte Byte()
    {
        Need(1);
        return _data[_position++];
    }

    public bool Bool() => Byte() switch
    {
        0 => false,
        1 => true,
        var b => throw new SnapshotFormatException($"Invalid boolean byte {b} at offset {_position - 1}."),
    };

    public long Fixed64()
    {
        Need(sizeof(long));
        var value = BinaryPrimitives.ReadInt64LittleEndian(_data[_position..]);
        _position += sizeof(long);
        return value;
    }

    public double Double()
    {
        Need(sizeof(double));
        var value = BinaryPrimitives.ReadDoubleLittleEndian(_data[_position..]);
        _position += sizeof(double);
        return value;
    }

    public ulong VarULong()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = Byte();
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new SnapshotFormatException($"Varint longer than 10 bytes at offset {_position}.");
    }

    public uint VarUInt()
    {
        var value = VarULong();
        return value <= uint.MaxValue ? (uint)value : throw new SnapshotFormatException($"Varint {value} out of range at offset {_position}.");
    }

    public long VarLong() => UnZigZag(VarULong());

    /// <summary>A zig-zag varint that must fit an <see cref="int"/> (enum numbers).</summary>
    public int VarInt()
    {
        var value = VarLong();
        return value is >= int.MinValue and <= int.MaxValue
            ? (int)value
            : throw new SnapshotFormatException($"Enum number {value} out of range at offset {_position}.");
    }

    /// <summary>An element count, bounded by the bytes left so corrupt input cannot request a huge allocation.</summary>
    public int Count(int minItemBytes)
    {
        var count = VarUInt();
        return count <= (uint)(Remaining / minItemBytes)
            ? (int)count
            : throw new SnapshotFormatException($"Element count {count} exceeds the remaining {Remaining} bytes at offset {_position}.");
    }

    public string String()
    {
        var length = VarUInt();
        if (length > (uint)Remaining)
        {
            throw new SnapshotFormatException($"String of {length} bytes runs past the end ({Remaining} left) at offset {_position}.");
        }

        try
        {
            var value = StrictUtf8.GetString(_data.Slice(_position, (int)length));
            _position += (int)length;
            return value;
        }
        catch (DecoderFallbackException ex)
        {
            throw new SnapshotFormatException($"Invalid UTF-8 string at offset {_position}.", ex);
        }
    }

    private readonly void Need(int bytes)
    {
        if (_data.Length - _position < bytes)
        {
            throw new SnapshotFormatException($"Snapshot truncated: needed {bytes} bytes at offset {_position}, {_data.Length - _position} left.");
        }
    }
}
