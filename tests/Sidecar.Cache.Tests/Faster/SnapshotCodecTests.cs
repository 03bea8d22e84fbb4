using System.Buffers;
using System.Text;
using Sidecar.Cache.Faster;
using Sidecar.Cache.Faster.Internal;
using Sidecar.Core.Model;
using Sidecar.Testing;

namespace Sidecar.Cache.Tests.Faster;

public sealed class SnapshotCodecTests
{
    // Format version 2 (checksummed) as written from this release on: records on disk must keep decoding, so these never change.
    private const string FullVersion2Hex =
        "022779353DDCC8C0EB0068E5CF8B010000A2A0ABFEF9620461636D65010B776F726B73706163652D310D02FF7F0D6665"
        + "61747572652D7365617473040609536561747320E29C9304736561740573656174730000000000803940000000000000"
        + "D0BF030161000BC3BC6EC3AF63C3B864C3A912FE9FABFEF962FC9FABFEF9620980F8D4C4F26280C881B881630880C0E2"
        + "85E3680B637265646974732D757364FCA9F1D24D62503FC8080B666561747572652D6F64649A0105000000000000F07F"
        + "FFFFFFFFFFFFEF7F00C601FFFFFFFFFFFFFFFFFF01FEFFFFFFFFFFFFFFFF015401FF010B637265646974732D75736407"
        + "446F6C6C6172730F5072657061696420637265646974730663726564697407637265646974730000000000408F400000"
        + "00000080294018FA9FABFEF962F89FABFEF96280F0D7F1886380E0998DCC6E";

    private const string SmallVersion2Hex =
        "02C1FA2BECD86D89400068E5CF8B01000080A0ABFEF9620461636D650000020811666561747572652D6170692D63616C"
        + "6C7304040000000000408F4000000000000029400080A0ABFEF96282A0ABFEF962000B666561747572652D73736F0200"
        + "000000000000000000000000";

    // Format version 1 (no checksum), written by the releases before: refused, so such a store is read as misses.
    private const string FullVersion1Hex =
        "010068E5CF8B010000A2A0ABFEF9620461636D65010B776F726B73706163652D310D02FF7F0D666561747572652D7365"
        + "617473040609536561747320E29C9304736561740573656174730000000000803940000000000000D0BF030161000BC3"
        + "BC6EC3AF63C3B864C3A912FE9FABFEF962FC9FABFEF9620980F8D4C4F26280C881B881630880C0E285E3680B63726564"
        + "6974732D757364FCA9F1D24D62503FC8080B666561747572652D6F64649A0105000000000000F07FFFFFFFFFFFFFEF7F"
        + "00C601FFFFFFFFFFFFFFFFFF01FEFFFFFFFFFFFFFFFF015401FF010B637265646974732D75736407446F6C6C6172730F"
        + "5072657061696420637265646974730663726564697407637265646974730000000000408F40000000000080294018FA"
        + "9FABFEF962F89FABFEF96280F0D7F1886380E0998DCC6E";

    private const string SmallVersion1Hex =
        "010068E5CF8B01000080A0ABFEF9620461636D650000020811666561747572652D6170692D63616C6C73040400000000"
        + "00408F4000000000000029400080A0ABFEF96282A0ABFEF962000B666561747572652D73736F02000000000000000000"
        + "00000000";

    [Fact]
    public void Serialize_SnapshotWithEveryFieldSet_RoundTripsEveryField()
    {
        var snapshot = Snapshots.Full();

        var decoded = SnapshotCodec.Deserialize(SnapshotCodec.Serialize(snapshot));

        Snapshots.AssertSame(snapshot, decoded);
        Assert.Equal(snapshot.EarliestValidUntil, decoded.EarliestValidUntil);
        Assert.True(decoded.TryGetFeature("feature-seats", out var seats));
        Assert.Equal(0.001, seats.CreditRateAmount);
    }

    [Fact]
    public void Serialize_SnapshotWithNullsAndEmptyLists_RoundTripsNulls()
    {
        var snapshot = new CustomerSnapshot(
            new CustomerKey("globex", null),
            null,
            [new FeatureEntitlement { FeatureId = "f" }],
            [new CreditGrant { CurrencyId = "c" }],
            entitlementsTimestamp: 0,
            fetchedAt: -1);

        var decoded = SnapshotCodec.Deserialize(SnapshotCodec.Serialize(snapshot));

        Snapshots.AssertSame(snapshot, decoded);
        Assert.Null(decoded.Key.ResourceId);
        Assert.Null(decoded.Features[0].UsageLimit);
        Assert.Null(decoded.Features[0].DeniedReason);
        Assert.Null(decoded.Features[0].ResetPeriod);
        Assert.Null(decoded.Credits[0].DisplayName);
        Assert.Empty(decoded.Features[0].EnumValues);
    }

    [Fact]
    public void Serialize_EmptyStringsAndResource_StayDistinctFromNull()
    {
        var snapshot = new CustomerSnapshot(
            new CustomerKey("", ""),
            Stigg.Sidecar.V1.AccessDeniedReason.Unspecified,
            [new FeatureEntitlement { FeatureId = "", DisplayName = "", Units = "", CreditCurrencyId = "" }],
            [],
            1,
            2);

        var decoded = SnapshotCodec.Deserialize(SnapshotCodec.Serialize(snapshot));

        Snapshots.AssertSame(snapshot, decoded);
        Assert.Equal("", decoded.Key.ResourceId);
        Assert.Equal(Stigg.Sidecar.V1.AccessDeniedReason.Unspecified, decoded.CustomerReason);
    }

    [Fact]
    public void Write_BufferWriter_ProducesSameBytesAsSerialize()
    {
        var snapshot = Snapshots.Full();
        var writer = new ArrayBufferWriter<byte>();

        var written = SnapshotCodec.Write(snapshot, writer);

        Assert.Equal(SnapshotCodec.Serialize(snapshot), writer.WrittenSpan.ToArray());
        Assert.Equal(writer.WrittenCount, written);
    }

    [Fact]
    public void Serialize_KnownSnapshots_AreFormatVersion2ByteForByte()
    {
        var small = Snapshots.Small("acme", 1_700_000_000_000, usage: 12.5, usageAt: 1_700_000_000_001);

        Assert.Equal(FullVersion2Hex, Convert.ToHexString(SnapshotCodec.Serialize(Snapshots.Full())));
        Assert.Equal(SmallVersion2Hex, Convert.ToHexString(SnapshotCodec.Serialize(small)));
        Snapshots.AssertSame(Snapshots.Full(), SnapshotCodec.Deserialize(Convert.FromHexString(FullVersion2Hex)));
        Snapshots.AssertSame(small, SnapshotCodec.Deserialize(Convert.FromHexString(SmallVersion2Hex)));
    }

    [Fact]
    public void Deserialize_Version1WithoutChecksum_IsRefused()
    {
        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotCodec.Deserialize(Convert.FromHexString(FullVersion1Hex)));

        Assert.Contains("version 1", ex.Message, StringComparison.Ordinal);
        Assert.False(SnapshotCodec.TryReadEntitlementsTimestamp(Convert.FromHexString(SmallVersion1Hex), out _));
    }

    [Fact]
    public void Deserialize_EverySingleBitFlip_ThrowsAndTheTimestampGuardRefusesIt()
    {
        var original = SnapshotCodec.Serialize(Snapshots.Full());

        for (var bit = 0; bit < original.Length * 8; bit++)
        {
            var bytes = (byte[])original.Clone();
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));

            Assert.Throws<SnapshotFormatException>(() => SnapshotCodec.Deserialize(bytes));
            Assert.False(SnapshotCodec.TryReadEntitlementsTimestamp(bytes, out _));
        }
    }

    [Fact]
    public void Serialize_FirstByte_IsFormatVersion()
    {
        var bytes = SnapshotCodec.Serialize(Snapshots.Small("acme", 5));

        Assert.Equal(SnapshotCodec.FormatVersion, bytes[0]);
        Assert.True(SnapshotCodec.TryReadEntitlementsTimestamp(bytes, out var timestamp));
        Assert.Equal(5, timestamp);
    }

    [Fact]
    public void Serialize_TypicalSnapshot_IsCompact()
    {
        var snapshot = Snapshots.Small("customer-0001", 1_700_000_000_000);

        // Strings dominate: the two feature ids and the customer id are 43 bytes of the total; the checksum is 8.
        Assert.True(SnapshotCodec.Serialize(snapshot).Length < 118);
    }

    [Fact]
    public void Deserialize_EveryTruncation_ThrowsSnapshotFormatException()
    {
        var bytes = SnapshotCodec.Serialize(Snapshots.Full());

        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<SnapshotFormatException>(() => SnapshotCodec.Deserialize(bytes.AsSpan(0, length)));
        }
    }

    [Fact]
    public void Deserialize_UnknownVersion_ThrowsNamingTheVersion()
    {
        var bytes = SnapshotCodec.Serialize(Snapshots.Full());
        bytes[0] = 9;

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotCodec.Deserialize(bytes));

        Assert.Contains("version 9", ex.Message, StringComparison.Ordinal);
        Assert.False(SnapshotCodec.TryReadEntitlementsTimestamp(bytes, out _));
    }

    [Fact]
    public void Deserialize_TrailingBytes_Throws()
    {
        var bytes = SnapshotCodec.Serialize(Snapshots.Small("acme", 1));

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotCodec.Deserialize(Reseal([.. bytes, 0])));

        Assert.Contains("trailing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deserialize_InvalidUtf8_Throws()
    {
        var snapshot = Snapshots.Small("zz", 1);
        var bytes = SnapshotCodec.Serialize(snapshot);
        var at = bytes.AsSpan().IndexOf("zz"u8);
        bytes[at] = 0xFF;

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotCodec.Deserialize(Reseal(bytes)));

        Assert.DoesNotContain("checksum", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deserialize_RandomCorruption_ThrowsOnlySnapshotFormatException()
    {
        var original = SnapshotCodec.Serialize(Snapshots.Full());
        var random = new Random(1234);

        for (var i = 0; i < 5000; i++)
        {
            var bytes = (byte[])original.Clone();
            var flips = random.Next(1, 4);
            for (var f = 0; f < flips; f++)
            {
                bytes[random.Next(9, bytes.Length)] = (byte)random.Next(256);
            }

            try
            {
                // Resealed, so the decoder's own bounds checks are what is tested, not the checksum.
                SnapshotCodec.Deserialize(Reseal(bytes));
            }
            catch (SnapshotFormatException)
            {
                // Expected for most corruptions; any other exception type fails the test.
            }
        }
    }

    [Fact]
    public void Deserialize_HugeElementCount_ThrowsWithoutAllocating()
    {
        // Version, checksum, timestamp, fetchedAt 0, customer "a", no resource, no reason, then a feature count of 2^31.
        byte[] bytes = [SnapshotCodec.FormatVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, (byte)'a', 0, 0, 0x80, 0x80, 0x80, 0x80, 0x08];

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotCodec.Deserialize(Reseal(bytes)));

        Assert.Contains("count", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("acme", null)]
    [InlineData("acme", "workspace-1")]
    [InlineData("ünï cødé/ключ", "資源")]
    [InlineData("", "")]
    public void WriteKey_AnyCustomerKey_IsUtf8OfToString(string customerId, string? resourceId)
    {
        var key = new CustomerKey(customerId, resourceId);
        var buffer = new byte[SessionLease.KeyLength(key)];

        var length = SessionLease.WriteKey(key, buffer);

        Assert.Equal(Encoding.UTF8.GetBytes(key.ToString()), buffer.AsSpan(0, length).ToArray());
        Assert.Equal(buffer.Length, length);
    }

    /// <summary>Writes the checksum that matches the (altered) bytes, as an encoder would have.</summary>
    private static byte[] Reseal(byte[] bytes)
    {
        if (bytes.Length >= 17)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(1), System.IO.Hashing.XxHash3.HashToUInt64(bytes.AsSpan(9)));
        }

        return bytes;
    }
}
