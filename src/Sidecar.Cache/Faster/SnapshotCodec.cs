using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Cache.Faster;

/// <summary>
/// Compact, versioned binary form of a <see cref="CustomerSnapshot"/>, used as the FASTER value (no reflection, no
/// DataContract: AOT-safe). Every field of the snapshot, its features and its credits round-trips, nullables included.
/// </summary>
/// <remarks>
/// Layout of format version 1 (all integers little-endian):
/// <code>
/// byte     format version (1)
/// int64    EntitlementsTimestamp — fixed width at offset 1 so a tier can apply the timestamp guard without decoding
/// varint   FetchedAt (zig-zag)
/// string   CustomerId; byte hasResource; [string ResourceId]
/// varint   CustomerReason (0 = null, else zig-zag number + 1)
/// varint   feature count, then each feature; varint credit count, then each credit
/// </code>
/// A feature or credit starts with a varint of presence/boolean flags, followed by its fields in declaration order
/// (absent nullables are skipped). Strings are a varint byte length plus UTF-8; doubles are 8 raw bytes; instants and
/// enum numbers are zig-zag varints (unknown enum numbers survive too). Decoding is strict: a wrong version, a length
/// that runs past the end, invalid UTF-8 or trailing bytes throw <see cref="SnapshotFormatException"/>.
/// </remarks>
public static class SnapshotCodec
{
    /// <summary>The format version written as the first byte.</summary>
    public const byte FormatVersion = 1;

    private const int HeaderBytes = 1 + sizeof(long);

    // Feature flags.
    private const uint FHasDisplayName = 1 << 0;
    private const uint FHasUnits = 1 << 1;
    private const uint FHasUnitsPlural = 1 << 2;
    private const uint FHasUsageLimit = 1 << 3;
    private const uint FUnlimited = 1 << 4;
    private const uint FSoftLimit = 1 << 5;
    private const uint FHasDeniedReason = 1 << 6;
    private const uint FHasAnchor = 1 << 7;
    private const uint FHasPeriodStart = 1 << 8;
    private const uint FHasPeriodEnd = 1 << 9;
    private const uint FHasResetPeriod = 1 << 10;
    private const uint FHasValidUntil = 1 << 11;
    private const uint FHasCreditCurrency = 1 << 12;
    private const uint FHasCreditRate = 1 << 13;
    private const uint FeatureFlagsMask = (1 << 14) - 1;

    // Credit flags.
    private const uint CHasDisplayName = 1 << 0;
    private const uint CHasDescription = 1 << 1;
    private const uint CHasUnitSingular = 1 << 2;
    private const uint CHasUnitPlural = 1 << 3;
    private const uint CSoftLimit = 1 << 4;
    private const uint CHasDeniedReason = 1 << 5;
    private const uint CHasPeriodEnd = 1 << 6;
    private const uint CHasValidUntil = 1 << 7;
    private const uint CreditFlagsMask = (1 << 8) - 1;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Serializes into a new array of exactly the encoded size.</summary>
    public static byte[] Serialize(CustomerSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var bytes = new byte[GetSize(snapshot)];
        Encode(snapshot, bytes);
        return bytes;
    }

    /// <summary>Serializes into <paramref name="writer"/>; returns the number of bytes written.</summary>
    public static int Write(CustomerSnapshot snapshot, IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(writer);
        var size = GetSize(snapshot);
        var span = writer.GetSpan(size);
        Encode(snapshot, span);
        writer.Advance(size);
        return size;
    }

    /// <summary>Decodes a snapshot; throws <see cref="SnapshotFormatException"/> for anything that is not a valid encoding.</summary>
    public static CustomerSnapshot Deserialize(ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        var version = reader.Byte();
        if (version != FormatVersion)
        {
            throw new SnapshotFormatException($"Unsupported snapshot format version {version} (expected {FormatVersion}).");
        }

        var entitlementsTimestamp = reader.Fixed64();
        var fetchedAt = reader.VarLong();
        var customerId = reader.String();
        var resourceId = reader.Bool() ? reader.String() : null;
        var customerReason = reader.NullableReason();

        var features = new FeatureEntitlement[reader.Count(minItemBytes: 4)];
        for (var i = 0; i < features.Length; i++)
        {
            features[i] = ReadFeature(ref reader);
        }

        var credits = new CreditGrant[reader.Count(minItemBytes: 12)];
        for (var i = 0; i < credits.Length; i++)
        {
            credits[i] = ReadCredit(ref reader);
        }

        if (!reader.End)
        {
            throw new SnapshotFormatException($"Snapshot has {reader.Remaining} unexpected trailing bytes.");
        }

        return new CustomerSnapshot(new CustomerKey(customerId, resourceId), customerReason, features, credits, entitlementsTimestamp, fetchedAt);
    }

    /// <summary>
    /// Reads only the entitlements timestamp (fixed offset), so a store can apply the write guard without decoding.
    /// False when the bytes are too short or of another format version.
    /// </summary>
    public static bool TryReadEntitlementsTimestamp(ReadOnlySpan<byte> data, out long entitlementsTimestamp)
    {
        if (data.Length < HeaderBytes || data[0] != FormatVersion)
        {
            entitlementsTimestamp = 0;
            return false;
        }

        entitlementsTimestamp = BinaryPrimitives.ReadInt64LittleEndian(data[1..]);
        return true;
    }

    /// <summary>Exact encoded size of <paramref name="snapshot"/>.</summary>
    internal static int GetSize(CustomerSnapshot snapshot)
    {
        var size = HeaderBytes + VarLongSize(snapshot.FetchedAt) + StringSize(snapshot.Key.CustomerId) + 1;
        if (snapshot.Key.ResourceId is { } resource)
        {
            size += StringSize(resource);
        }

        size += NullableEnumSize(snapshot.CustomerReason) + VarUIntSize((uint)snapshot.Features.Count);
        foreach (var f in snapshot.Features)
        {
            size += FeatureSize(f);
        }

        size += VarUIntSize((uint)snapshot.Credits.Count);
        foreach (var c in snapshot.Credits)
        {
            size += CreditSize(c);
        }

        return size;
    }

    /// <summary>Encodes into <paramref name="destination"/>, which must hold at least <see cref="GetSize"/> bytes.</summary>
    internal static int Encode(CustomerSnapshot snapshot, Span<byte> destination)
    {
        var w = new Writer(destination);
        w.Byte(FormatVersion);
        w.Fixed64(snapshot.EntitlementsTimestamp);
        w.VarLong(snapshot.FetchedAt);
        w.String(snapshot.Key.CustomerId);
        w.Byte(snapshot.Key.ResourceId is null ? (byte)0 : (byte)1);
        if (snapshot.Key.ResourceId is { } resource)
        {
            w.String(resource);
        }

        w.NullableEnum(snapshot.CustomerReason);
        w.VarUInt((uint)snapshot.Features.Count);
        foreach (var f in snapshot.Features)
        {
            WriteFeature(ref w, f);
        }

        w.VarUInt((uint)snapshot.Credits.Count);
        foreach (var c in snapshot.Credits)
        {
            WriteCredit(ref w, c);
        }

        return w.Position;
    }

    private static uint FeatureFlags(FeatureEntitlement f)
    {
        uint flags = 0;
        if (f.DisplayName is not null) flags |= FHasDisplayName;
        if (f.Units is not null) flags |= FHasUnits;
        if (f.UnitsPlural is not null) flags |= FHasUnitsPlural;
        if (f.UsageLimit is not null) flags |= FHasUsageLimit;
        if (f.HasUnlimitedUsage) flags |= FUnlimited;
        if (f.HasSoftLimit) flags |= FSoftLimit;
        if (f.DeniedReason is not null) flags |= FHasDeniedReason;
        if (f.UsagePeriodAnchor is not null) flags |= FHasAnchor;
        if (f.UsagePeriodStart is not null) flags |= FHasPeriodStart;
        if (f.UsagePeriodEnd is not null) flags |= FHasPeriodEnd;
        if (f.ResetPeriod is not null) flags |= FHasResetPeriod;
        if (f.ValidUntil is not null) flags |= FHasValidUntil;
        if (f.CreditCurrencyId is not null) flags |= FHasCreditCurrency;
        if (f.CreditRateAmount is not null) flags |= FHasCreditRate;
        return flags;
    }

    private static int FeatureSize(FeatureEntitlement f)
    {
        var size = VarUIntSize(FeatureFlags(f)) + StringSize(f.FeatureId)
            + VarLongSize((int)f.FeatureType) + VarLongSize((int)f.MeterType)
            + OptionalStringSize(f.DisplayName) + OptionalStringSize(f.Units) + OptionalStringSize(f.UnitsPlural)
            + (f.UsageLimit is null ? 0 : sizeof(double)) + sizeof(double)
            + VarUIntSize((uint)f.EnumValues.Count);
        foreach (var v in f.EnumValues)
        {
            size += StringSize(v);
        }

        size += OptionalLongSize(f.DeniedReason is { } r ? (int)r : null)
            + VarLongSize(f.EntitlementUpdatedAt) + VarLongSize(f.UsageUpdatedAt)
            + OptionalLongSize(f.UsagePeriodAnchor) + OptionalLongSize(f.UsagePeriodStart) + OptionalLongSize(f.UsagePeriodEnd)
            + OptionalLongSize(f.ResetPeriod is { } p ? (int)p : null) + OptionalLongSize(f.ValidUntil)
            + OptionalStringSize(f.CreditCurrencyId) + (f.CreditRateAmount is null ? 0 : sizeof(double));
        return size;
    }

    private static void WriteFeature(ref Writer w, FeatureEntitlement f)
    {
        w.VarUInt(FeatureFlags(f));
        w.String(f.FeatureId);
        w.VarLong((int)f.FeatureType);
        w.VarLong((int)f.MeterType);
        w.OptionalString(f.DisplayName);
        w.OptionalString(f.Units);
        w.OptionalString(f.UnitsPlural);
        if (f.UsageLimit is { } limit) w.Double(limit);
        w.Double(f.CurrentUsage);
        w.VarUInt((uint)f.EnumValues.Count);
        foreach (var v in f.EnumValues)
        {
            w.String(v);
        }

        if (f.DeniedReason is { } reason) w.VarLong((int)reason);
        w.VarLong(f.EntitlementUpdatedAt);
        w.VarLong(f.UsageUpdatedAt);
        if (f.UsagePeriodAnchor is { } anchor) w.VarLong(anchor);
        if (f.UsagePeriodStart is { } start) w.VarLong(start);
        if (f.UsagePeriodEnd is { } end) w.VarLong(end);
        if (f.ResetPeriod is { } period) w.VarLong((int)period);
        if (f.ValidUntil is { } until) w.VarLong(until);
        w.OptionalString(f.CreditCurrencyId);
        if (f.CreditRateAmount is { } rate) w.Double(rate);
    }

    private static FeatureEntitlement ReadFeature(ref Reader r)
    {
        var flags = r.VarUInt();
        if ((flags & ~FeatureFlagsMask) != 0)
        {
            throw new SnapshotFormatException($"Unknown feature flags 0x{flags:x}.");
        }

        var featureId = r.String();
        var featureType = (FeatureType)r.VarInt();
        var meterType = (MeterType)r.VarInt();
        var displayName = Has(flags, FHasDisplayName) ? r.String() : null;
        var units = Has(flags, FHasUnits) ? r.String() : null;
        var unitsPlural = Has(flags, FHasUnitsPlural) ? r.String() : null;
        double? usageLimit = Has(flags, FHasUsageLimit) ? r.Double() : null;
        var currentUsage = r.Double();
        var enumValues = new string[r.Count(minItemBytes: 1)];
        for (var i = 0; i < enumValues.Length; i++)
        {
            enumValues[i] = r.String();
        }

        AccessDeniedReason? deniedReason = Has(flags, FHasDeniedReason) ? (AccessDeniedReason)r.VarInt() : null;
        var entitlementUpdatedAt = r.VarLong();
        var usageUpdatedAt = r.VarLong();
        long? anchor = Has(flags, FHasAnchor) ? r.VarLong() : null;
        long? periodStart = Has(flags, FHasPeriodStart) ? r.VarLong() : null;
        long? periodEnd = Has(flags, FHasPeriodEnd) ? r.VarLong() : null;
        EntitlementResetPeriod? resetPeriod = Has(flags, FHasResetPeriod) ? (EntitlementResetPeriod)r.VarInt() : null;
        long? validUntil = Has(flags, FHasValidUntil) ? r.VarLong() : null;
        var creditCurrencyId = Has(flags, FHasCreditCurrency) ? r.String() : null;
        double? creditRate = Has(flags, FHasCreditRate) ? r.Double() : null;

        return new FeatureEntitlement
        {
            FeatureId = featureId,
            FeatureType = featureType,
            MeterType = meterType,
            DisplayName = displayName,
            Units = units,
            UnitsPlural = unitsPlural,
            UsageLimit = usageLimit,
            HasUnlimitedUsage = Has(flags, FUnlimited),
            HasSoftLimit = Has(flags, FSoftLimit),
            CurrentUsage = currentUsage,
            EnumValues = enumValues,
            DeniedReason = deniedReason,
            EntitlementUpdatedAt = entitlementUpdatedAt,
            UsageUpdatedAt = usageUpdatedAt,
            UsagePeriodAnchor = anchor,
            UsagePeriodStart = periodStart,
            UsagePeriodEnd = periodEnd,
            ResetPeriod = resetPeriod,
            ValidUntil = validUntil,
            CreditCurrencyId = creditCurrencyId,
            CreditRateAmount = creditRate,
        };
    }

    private static uint CreditFlags(CreditGrant c)
    {
        uint flags = 0;
        if (c.DisplayName is not null) flags |= CHasDisplayName;
        if (c.Description is not null) flags |= CHasDescription;
        if (c.UnitSingular is not null) flags |= CHasUnitSingular;
        if (c.UnitPlural is not null) flags |= CHasUnitPlural;
        if (c.HasSoftLimit) flags |= CSoftLimit;
        if (c.DeniedReason is not null) flags |= CHasDeniedReason;
        if (c.UsagePeriodEnd is not null) flags |= CHasPeriodEnd;
        if (c.ValidUntil is not null) flags |= CHasValidUntil;
        return flags;
    }

    private static int CreditSize(CreditGrant c) =>
        VarUIntSize(CreditFlags(c)) + StringSize(c.CurrencyId)
        + OptionalStringSize(c.DisplayName) + OptionalStringSize(c.Description)
        + OptionalStringSize(c.UnitSingular) + OptionalStringSize(c.UnitPlural)
        + (2 * sizeof(double))
        + OptionalLongSize(c.DeniedReason is { } r ? (int)r : null)
        + VarLongSize(c.EntitlementUpdatedAt) + VarLongSize(c.UsageUpdatedAt)
        + OptionalLongSize(c.UsagePeriodEnd) + OptionalLongSize(c.ValidUntil);

    private static void WriteCredit(ref Writer w, CreditGrant c)
    {
        w.VarUInt(CreditFlags(c));
        w.String(c.CurrencyId);
        w.OptionalString(c.DisplayName);
        w.OptionalString(c.Description);
        w.OptionalString(c.UnitSingular);
        w.OptionalString(c.UnitPlural);
        w.Double(c.UsageLimit);
        w.Double(c.CurrentUsage);
        if (c.DeniedReason is { } reason) w.VarLong((int)reason);
        w.VarLong(c.EntitlementUpdatedAt);
        w.VarLong(c.UsageUpdatedAt);
        if (c.UsagePeriodEnd is { } end) w.VarLong(end);
        if (c.ValidUntil is { } until) w.VarLong(until);
    }

    private static CreditGrant ReadCredit(ref Reader r)
    {
        var flags = r.VarUInt();
        if ((flags & ~CreditFlagsMask) != 0)
        {
            throw new SnapshotFormatException($"Unknown credit flags 0x{flags:x}.");
        }

        var currencyId = r.String();
        var displayName = Has(flags, CHasDisplayName) ? r.String() : null;
        var description = Has(flags, CHasDescription) ? r.String() : null;
        var unitSingular = Has(flags, CHasUnitSingular) ? r.String() : null;
        var unitPlural = Has(flags, CHasUnitPlural) ? r.String() : null;
        var usageLimit = r.Double();
        var currentUsage = r.Double();
        AccessDeniedReason? deniedReason = Has(flags, CHasDeniedReason) ? (AccessDeniedReason)r.VarInt() : null;
        var entitlementUpdatedAt = r.VarLong();
        var usageUpdatedAt = r.VarLong();
        long? periodEnd = Has(flags, CHasPeriodEnd) ? r.VarLong() : null;
        long? validUntil = Has(flags, CHasValidUntil) ? r.VarLong() : null;

        return new CreditGrant
        {
            CurrencyId = currencyId,
            DisplayName = displayName,
            Description = description,
            UnitSingular = unitSingular,
            UnitPlural = unitPlural,
            UsageLimit = usageLimit,
            CurrentUsage = currentUsage,
            HasSoftLimit = Has(flags, CSoftLimit),
            DeniedReason = deniedReason,
            EntitlementUpdatedAt = entitlementUpdatedAt,
            UsageUpdatedAt = usageUpdatedAt,
            UsagePeriodEnd = periodEnd,
            ValidUntil = validUntil,
        };
    }

    private static bool Has(uint flags, uint flag) => (flags & flag) != 0;

    private static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    private static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    private static int VarUIntSize(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private static int VarLongSize(long value) => VarUIntSize(ZigZag(value));

    private static int OptionalLongSize(long? value) => value is { } v ? VarLongSize(v) : 0;

    private static int NullableEnumSize(AccessDeniedReason? value) => value is { } v ? VarUIntSize(ZigZag((int)v) + 1) : 1;

    private static int StringSize(string value)
    {
        var bytes = Encoding.UTF8.GetByteCount(value);
        return VarUIntSize((uint)bytes) + bytes;
    }

    private static int OptionalStringSize(string? value) => value is null ? 0 : StringSize(value);

    private ref struct Writer(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;
        private int _position;

        public readonly int Position => _position;

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

        public void NullableEnum(AccessDeniedReason? value) => VarUInt(value is { } v ? ZigZag((int)v) + 1 : 0);

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

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public readonly bool End => _position == _data.Length;

        public readonly int Remaining => _data.Length - _position;

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

        public int VarInt()
        {
            var value = VarLong();
            return value is >= int.MinValue and <= int.MaxValue
                ? (int)value
                : throw new SnapshotFormatException($"Enum number {value} out of range at offset {_position}.");
        }

        public AccessDeniedReason? NullableReason()
        {
            var raw = VarULong();
            if (raw == 0)
            {
                return null;
            }

            var value = UnZigZag(raw - 1);
            return value is >= int.MinValue and <= int.MaxValue
                ? (AccessDeniedReason)(int)value
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
}

/// <summary>The bytes are not a valid encoded snapshot (corrupt, truncated, or of an unknown format version).</summary>
public sealed class SnapshotFormatException : FormatException
{
    public SnapshotFormatException()
    {
    }

    public SnapshotFormatException(string message)
        : base(message)
    {
    }

    public SnapshotFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
