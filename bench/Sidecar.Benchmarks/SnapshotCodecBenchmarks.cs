using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using Sidecar.Cache.Faster;
using Sidecar.Core.Model;

namespace Sidecar.Benchmarks;

/// <summary>
/// What the per-record integrity check costs on every read from FASTER: decoding a stored snapshot (which verifies
/// its XxHash3 checksum first) against hashing the same bytes alone. Customer on the sample's full plan (7 entitlements).
/// </summary>
[MemoryDiagnoser]
public class SnapshotCodecBenchmarks
{
    private byte[] _encoded = null!;

    [GlobalSetup]
    public void Setup()
    {
        _encoded = SnapshotCodec.Serialize(SampleData.Acme());
    }

    [Benchmark(Description = "decode (checksum verified)")]
    public CustomerSnapshot Decode() => SnapshotCodec.Deserialize(_encoded);

    [Benchmark(Description = "checksum alone (XxHash3)")]
    public ulong Checksum() => XxHash3.HashToUInt64(_encoded.AsSpan(9));

    [Benchmark(Description = "encode (checksum computed)")]
    public byte[] Encode() => SnapshotCodec.Serialize(SnapshotCodec.Deserialize(_encoded));
}
