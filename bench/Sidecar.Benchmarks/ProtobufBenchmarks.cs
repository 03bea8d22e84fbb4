using System.Buffers;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Sidecar.Core.Evaluation;
using Stigg.Sidecar.V1;

namespace Sidecar.Benchmarks;

/// <summary>
/// The wire work of a check: parse a typical request, serialize a typical response (into a reused buffer writer, as
/// grpc-dotnet's serialization context does, and to a fresh array for comparison).
/// </summary>
[MemoryDiagnoser]
public class ProtobufBenchmarks
{
    private byte[] _booleanRequest = null!;
    private byte[] _meteredRequest = null!;
    private GetBooleanEntitlementResponse _booleanResponse = null!;
    private GetMeteredEntitlementResponse _meteredResponse = null!;
    private ArrayBufferWriter<byte> _buffer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _booleanRequest = new GetBooleanEntitlementRequest { CustomerId = "cust-004242", FeatureId = "feature-sso" }.ToByteArray();
        _meteredRequest = new GetMeteredEntitlementRequest
        {
            CustomerId = "cust-004242",
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 1 },
        }.ToByteArray();

        var acme = SampleData.Acme();
        _booleanResponse = EntitlementEvaluator.Boolean(
            acme, new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" }, FallbackSet.Empty, SampleData.NowMs);
        _meteredResponse = EntitlementEvaluator.Metered(
            acme, GetMeteredEntitlementRequest.Parser.ParseFrom(_meteredRequest), FallbackSet.Empty, SampleData.NowMs);
        _buffer = new ArrayBufferWriter<byte>(1024);
    }

    [Benchmark]
    public GetBooleanEntitlementRequest ParseBooleanRequest() => GetBooleanEntitlementRequest.Parser.ParseFrom(_booleanRequest);

    [Benchmark]
    public GetMeteredEntitlementRequest ParseMeteredRequest() => GetMeteredEntitlementRequest.Parser.ParseFrom(_meteredRequest);

    [Benchmark]
    public int SerializeBooleanResponse()
    {
        _buffer.ResetWrittenCount();
        _booleanResponse.WriteTo(_buffer);
        return _buffer.WrittenCount;
    }

    [Benchmark]
    public int SerializeMeteredResponse()
    {
        _buffer.ResetWrittenCount();
        _meteredResponse.WriteTo(_buffer);
        return _buffer.WrittenCount;
    }

    [Benchmark]
    public byte[] SerializeMeteredResponseToArray() => _meteredResponse.ToByteArray();
}
