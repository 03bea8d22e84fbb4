using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Sidecar.Core.Model;

namespace Sidecar.Upstream.Outbox.Internal;

/// <summary>
/// The binary form of an outbox entry (no reflection: AOT-safe). Layout of format version 1, integers little-endian:
/// <code>
/// byte   format version (1)
/// byte   kind (1 usage, 2 event)
/// int64  acceptedAt (epoch ms)
/// usage: string customerId, opt-string resourceId, string featureId, float64 value, byte behaviour (0 delta, 1 set),
///        opt-int64 createdAt, dimensions, string idempotencyKey
/// event: string eventName, string customerId, opt-string resourceId, string idempotencyKey, opt-int64 timestamp,
///        dimensions
/// uint32 CRC-32C of every byte before it
/// </code>
/// A string is an int32 byte length and UTF-8; an opt-* is a presence byte (0/1) and the value; dimensions are an
/// int32 count (-1 = null) of (string name, tagged value). Decoding is strict — a wrong version, a length past the
/// end, bad UTF-8, trailing bytes or a CRC mismatch throw <see cref="InvalidDataException"/> — so a damaged entry is
/// quarantined, never delivered.
/// </summary>
internal static class OutboxCodec
{
    public const byte FormatVersion = 1;

    private const byte TagNull = 0;
    private const byte TagString = 1;
    private const byte TagTrue = 2;
    private const byte TagFalse = 3;
    private const byte TagDouble = 4;
    private const byte TagLong = 5;
    private const byte TagFloat = 6;
    private const byte TagDecimal = 7;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static byte[] Encode(OutboxEntryKind kind, long acceptedAt, UsageReport? usage, RawEvent? rawEvent)
    {
        var w = new ArrayBufferWriter<byte>(256);
        WriteByte(w, FormatVersion);
        WriteByte(w, (byte)kind);
        WriteInt64(w, acceptedAt);
        if (kind == OutboxEntryKind.Usage)
        {
            var r = usage!;
            WriteString(w, r.CustomerId);
            WriteOptString(w, r.ResourceId);
            WriteString(w, r.FeatureId);
            WriteDouble(w, r.Value);
            WriteByte(w, r.UpdateBehavior == UsageUpdateBehavior.Set ? (byte)1 : (byte)0);
            WriteOptInt64(w, r.CreatedAt);
            WriteDimensions(w, r.Dimensions);
            WriteString(w, r.IdempotencyKey!);
        }
        else
        {
            var e = rawEvent!;
            WriteString(w, e.EventName);
            WriteString(w, e.CustomerId);
            WriteOptString(w, e.ResourceId);
            WriteString(w, e.IdempotencyKey);
            WriteOptInt64(w, e.Timestamp);
            WriteDimensions(w, e.Dimensions);
        }

        var crc = Crc32C(w.WrittenSpan);
        BinaryPrimitives.WriteUInt32LittleEndian(w.GetSpan(4), crc);
        w.Advance(4);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Decodes an entry stored at <paramref name="address"/>; throws <see cref="InvalidDataException"/> when damaged.</summary>
    public static OutboxEntry Decode(ReadOnlySpan<byte> bytes, long address)
    {
        if (bytes.Length < 1 + 1 + 8 + 4)
        {
            throw new InvalidDataException($"Outbox entry of {bytes.Length} bytes is too short.");
        }

        var body = bytes[..^4];
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes[^4..]);
        if (Crc32C(body) != stored)
        {
            throw new InvalidDataException("Outbox entry checksum mismatch.");
        }

        var r = new Reader(body);
        var version = r.Byte();
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Outbox entry format version {version} is not supported.");
        }

        var kind = (OutboxEntryKind)r.Byte();
        var acceptedAt = r.Int64();
        OutboxEntry entry;
        switch (kind)
        {
            case OutboxEntryKind.Usage:
                {
                    var customerId = r.String();
                    var resourceId = r.OptString();
                    var featureId = r.String();
                    var value = r.Double();
                    var behaviour = r.Byte() switch
                    {
                        0 => UsageUpdateBehavior.Delta,
                        1 => UsageUpdateBehavior.Set,
                        var b => throw new InvalidDataException($"Unknown update behaviour {b}."),
                    };
                    var createdAt = r.OptInt64();
                    var dimensions = r.Dimensions();
                    var key = r.String();
                    entry = new OutboxEntry
                    {
                        Address = address,
                        Kind = kind,
                        AcceptedAt = acceptedAt,
                        Usage = new UsageReport
                        {
                            CustomerId = customerId,
                            ResourceId = resourceId,
                            FeatureId = featureId,
                            Value = value,
                            UpdateBehavior = behaviour,
                            CreatedAt = createdAt,
                            Dimensions = dimensions,
                            IdempotencyKey = key,
                        },
                    };
                    break;
                }

            case OutboxEntryKind.Event:
                {
                    var eventName = r.String();
                    var customerId = r.String();
                    var resourceId = r.OptString();
                    var key = r.String();
                    var timestamp = r.OptInt64();
                    var dimensions = r.Dimensions();
                    entry = new OutboxEntry
                    {
                        Address = address,
                        Kind = kind,
                        AcceptedAt = acceptedAt,
                        Event = new RawEvent
                        {
                            EventName = eventName,
                            CustomerId = customerId,
                            ResourceId = resourceId,
                            IdempotencyKey = key,
                            Timestamp = timestamp,
                            Dimensions = dimensions,
                        },
                    };
                    break;
                }

            default:
                throw new InvalidDataException($"Unknown outbox entry kind {(byte)kind}.");
        }

        if (!r.AtEnd)
        {
            throw new InvalidDataException("Outbox entry has trailing bytes.");
        }

        return entry;
    }

    /// <summary>CRC-32C (Castagnoli) with the CPU's CRC instruction where there is one (<see cref="BitOperations.Crc32C(uint, ulong)"/>).</summary>
    internal static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    private static void WriteByte(ArrayBufferWriter<byte> w, byte value)
    {
        w.GetSpan(1)[0] = value;
        w.Advance(1);
    }

    private static void WriteInt32(ArrayBufferWriter<byte> w, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(w.GetSpan(4), value);
        w.Advance(4);
    }

    private static void WriteInt64(ArrayBufferWriter<byte> w, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(w.GetSpan(8), value);
        w.Advance(8);
    }

    private static void WriteDouble(ArrayBufferWriter<byte> w, double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(w.GetSpan(8), value);
        w.Advance(8);
    }

    private static void WriteString(ArrayBufferWriter<byte> w, string value)
    {
        var length = StrictUtf8.GetByteCount(value);
        WriteInt32(w, length);
        StrictUtf8.GetBytes(value, w.GetSpan(length));
        w.Advance(length);
    }

    private static void WriteOptString(ArrayBufferWriter<byte> w, string? value)
    {
        WriteByte(w, value is null ? (byte)0 : (byte)1);
        if (value is not null)
        {
            WriteString(w, value);
        }
    }

    private static void WriteOptInt64(ArrayBufferWriter<byte> w, long? value)
    {
        WriteByte(w, value is null ? (byte)0 : (byte)1);
        if (value is { } v)
        {
            WriteInt64(w, v);
        }
    }

    /// <summary>The value types <c>GraphQlRequestWriter</c> accepts; anything else is refused before it is stored.</summary>
    private static void WriteDimensions(ArrayBufferWriter<byte> w, IReadOnlyDictionary<string, object?>? dimensions)
    {
        if (dimensions is null)
        {
            WriteInt32(w, -1);
            return;
        }

        WriteInt32(w, dimensions.Count);
        foreach (var (name, value) in dimensions)
        {
            WriteString(w, name);
            switch (value)
            {
                case null:
                    WriteByte(w, TagNull);
                    break;
                case string s:
                    WriteByte(w, TagString);
                    WriteString(w, s);
                    break;
                case bool b:
                    WriteByte(w, b ? TagTrue : TagFalse);
                    break;
                case double d:
                    WriteByte(w, TagDouble);
                    WriteDouble(w, d);
                    break;
                case float f:
                    WriteByte(w, TagFloat);
                    BinaryPrimitives.WriteSingleLittleEndian(w.GetSpan(4), f);
                    w.Advance(4);
                    break;
                case int i:
                    WriteByte(w, TagLong);
                    WriteInt64(w, i);
                    break;
                case long l:
                    WriteByte(w, TagLong);
                    WriteInt64(w, l);
                    break;
                case decimal m:
                    WriteByte(w, TagDecimal);
                    foreach (var part in decimal.GetBits(m))
                    {
                        WriteInt32(w, part);
                    }

                    break;
                default:
                    throw new ArgumentException(
                        $"Dimension '{name}' has a {value.GetType().Name} value; only strings, numbers and booleans are allowed.",
                        nameof(dimensions));
            }
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly bool AtEnd => _rest.IsEmpty;

        public byte Byte() => Take(1)[0];

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        public string String()
        {
            var length = Int32();
            if (length < 0)
            {
                throw new InvalidDataException("Negative string length.");
            }

            try
            {
                return StrictUtf8.GetString(Take(length));
            }
            catch (DecoderFallbackException ex)
            {
                throw new InvalidDataException("Invalid UTF-8 in an outbox entry.", ex);
            }
        }

        public string? OptString() => Presence() ? String() : null;

        public long? OptInt64() => Presence() ? Int64() : null;

        public Dictionary<string, object?>? Dimensions()
        {
            var count = Int32();
            if (count == -1)
            {
                return null;
            }

            if (count < 0 || count > _rest.Length)
            {
                throw new InvalidDataException($"Invalid dimension count {count}.");
            }

            var map = new Dictionary<string, object?>(count, StringComparer.Ordinal);
            for (var i = 0; i < count; i++)
            {
                var name = String();
                object? value = Byte() switch
                {
                    TagNull => null,
                    TagString => String(),
                    TagTrue => true,
                    TagFalse => false,
                    TagDouble => Double(),
                    TagLong => Int64(),
                    TagFloat => BinaryPrimitives.ReadSingleLittleEndian(Take(4)),
                    TagDecimal => new decimal([Int32(), Int32(), Int32(), Int32()]),
                    var t => throw new InvalidDataException($"Unknown dimension tag {t}."),
                };
                map[name] = value;
            }

            return map;
        }

        private bool Presence() => Byte() switch
        {
            0 => false,
            1 => true,
            var b => throw new InvalidDataException($"Invalid presence byte {b}."),
        };

        private ReadOnlySpan<byte> Take(int count)
        {
            if ((uint)count > (uint)_rest.Length)
            {
                throw new InvalidDataException("An outbox entry field runs past the end.");
            }

            var taken = _rest[..count];
            _rest = _rest[count..];
            return taken;
        }
    }
}
