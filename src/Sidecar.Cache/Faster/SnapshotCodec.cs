using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using Sidecar.Cache.Faster.Internal;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using static Sidecar.Cache.Faster.Internal.SpanWriter;

namespace Sidecar.Cache.Faster;

/// <summary>
/// Compact, versioned, checksummed binary form of a <see cref="CustomerSnapshot"/>, used as the FASTER value (no
/// reflection, no DataContract: AOT-safe). Every field of the snapshot, its features and its credits round-trips,
/// nullables included.
/// </summary>
/// <remarks>
/// Layout of format version 2 (all integers little-endian):
/// <code>
/// byte     format version (2)
/// uint64   XxHash3 of every byte after it — a record damaged on disk fails decoding instead of being served
/// int64    EntitlementsTimestamp — fixed width at offset 9 so a tier can apply the timestamp guard without decoding
/// varint   FetchedAt (zig-zag)
/// string   CustomerId; byte hasResource; [string ResourceId]
/// varint   CustomerReason (0 = null, else zig-zag number + 1)
/// varint   feature count, then each feature; varint credit count, then each credit
/// </code>
/// A feature or credit starts with a varint of presence/boolean flags, followed by its fields in declaration order
/// (absent nullables are skipped). Strings are a varint byte length plus UTF-8; doubles are 8 raw bytes; instants and
/// enum numbers are zig-zag varints (unknown enum numbers survive too). Decoding is strict: a wrong version, a checksum
/// that does not match, a length that runs past the end, invalid UTF-8 or trailing bytes throw
/// <see cref="SnapshotFormatException"/>. Version 1 (no checksum) is refused, so a store written before checksums
/// is read as misses and refetched. The primitives are <see cref="SpanWriter"/> and <see cref="SpanReader"/>; this
/// class holds the layout.
/// </remarks>
public static class SnapshotCodec
{
    /// <summary>The format version written as the first byte.</summary>
    public const byte FormatVersion = 2;

    private const int ChecksumOffset = 1;
    private const int TimestampOffset = ChecksumOffset + sizeof(ulong);
    private const int HeaderBytes = TimestampOffset + sizeof(long);

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
        VerifyHeader(data);
        var reader = new SpanReader(data[TimestampOffset..]);
        var entitlementsTimestamp = reader.Fixed64();
        var fetchedAt = reader.VarLong();
        var customerId = reader.String();
        var resourceId = reader.Bool() ? reader.String() : null;
        var customerReason = ReadNullableReason(ref reader);

        var featureCount = reader.Count(minItemBytes: 4);
        var features = featureCount == 0 ? [] : new FeatureEntitlement[featureCount]; // a shared empty array, as the mapper's
        for (var i = 0; i < features.Length; i++)
        {
            features[i] = ReadFeature(ref reader);
        }

        var creditCount = reader.Count(minItemBytes: 12);
        var credits = creditCount == 0 ? [] : new CreditGrant[creditCount];
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
    /// Reads only the entitlements timestamp (fixed offset) once the checksum matches, so a store can apply the write
    /// guard without decoding. False when the bytes are too short, of another format version or damaged.
    /// </summary>
    public static bool TryReadEntitlementsTimestamp(ReadOnlySpan<byte> data, out long entitlementsTimestamp)
    {
        if (data.Length < HeaderBytes || data[0] != FormatVersion || StoredChecksum(data) != Checksum(data))
        {
            entitlementsTimestamp = 0;
            return false;
        }

        entitlementsTimestamp = BinaryPrimitives.ReadInt64LittleEndian(data[TimestampOffset..]);
        return true;
    }

    /// <summary>Throws <see cref="SnapshotFormatException"/> unless the bytes start with this version's header and their checksum matches.</summary>
    private static void VerifyHeader(ReadOnlySpan<byte> data)
    {
        if (data.Length < HeaderBytes)
        {
            throw new SnapshotFormatException($"Snapshot of {data.Length} bytes is shorter than its {HeaderBytes}-byte header.");
        }

        if (data[0] != FormatVersion)
        {
            throw new SnapshotFormatException($"Unsupported snapshot format version {data[0]} (expected {FormatVersion}).");
        }

        if (StoredChecksum(data) != Checksum(data))
        {
            throw new SnapshotFormatException("Snapshot checksum does not match its bytes (damaged record).");
        }
    }

    private static ulong StoredChecksum(ReadOnlySpan<byte> data) => BinaryPrimitives.ReadUInt64LittleEndian(data[ChecksumOffset..]);

    private static ulong Checksum(ReadOnlySpan<byte> data) => XxHash3.HashToUInt64(data[TimestampOffset..]);

    /// <summary>Exact encoded size of <paramref name="snapshot"/>.</summary>
    internal static int GetSize(CustomerSnapshot snapshot)
    {
        var size = HeaderBytes + VarLongSize(snapshot.FetchedAt) + StringSize(snapshot.Key.CustomerId) + 1;
        if (snapshot.Key.ResourceId is { } resource)
        {
            size += StringSize(resource);
        }

        size += NullableReasonSize(snapshot.CustomerReason) + VarUIntSize((uint)snapshot.Features.Count);
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
        var w = new SpanWriter(destination);
        w.Byte(FormatVersion);
        w.Fixed64(0); // checksum, filled in once the rest is written
        w.Fixed64(snapshot.EntitlementsTimestamp);
        w.VarLong(snapshot.FetchedAt);
        w.String(snapshot.Key.CustomerId);
        w.Byte(snapshot.Key.ResourceId is null ? (byte)0 : (byte)1);
        if (snapshot.Key.ResourceId is { } resource)
        {
            w.String(resource);
        }

        WriteNullableReason(ref w, snapshot.CustomerReason);
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

        var written = destination[..w.Position];
        BinaryPrimitives.WriteUInt64LittleEndian(written[ChecksumOffset..], Checksum(written));
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

    private static void WriteFeature(ref SpanWriter w, FeatureEntitlement f)
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

    private static FeatureEntitlement ReadFeature(ref SpanReader r)
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

    private static void WriteCredit(ref SpanWriter w, CreditGrant c)
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

    private static CreditGrant ReadCredit(ref SpanReader r)
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

    /// <summary>A nullable reason is one varint: 0 for null, else the zig-zag number + 1.</summary>
    private static int NullableReasonSize(AccessDeniedReason? value) => value is { } v ? VarUIntSize(ZigZag((int)v) + 1) : 1;

    private static void WriteNullableReason(ref SpanWriter w, AccessDeniedReason? value) => w.VarUInt(value is { } v ? ZigZag((int)v) + 1 : 0);

    private static AccessDeniedReason? ReadNullableReason(ref SpanReader r)
    {
        var raw = r.VarULong();
        if (raw == 0)
        {
            return null;
        }

        var value = SpanReader.UnZigZag(raw - 1);
        return value is >= int.MinValue and <= int.MaxValue
            ? (AccessDeniedReason)(int)value
            : throw new SnapshotFormatException($"Enum number {value} out of range at offset {r.Position}.");
    }
}
