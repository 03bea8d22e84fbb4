using System.Buffers;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Cache;
using Sidecar.Cache.Hot;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Host.Configuration;
using Sidecar.Host.Diagnostics;
using Sidecar.Host.Sources;
using Sidecar.Host.Rpc;
using Stigg.Sidecar.V1;

namespace Sidecar.Benchmarks;

/// <summary>
/// A whole cached check in process, as the host wires it (file mode, 10k customers on the sample's full plan): parse
/// the request bytes, <see cref="SidecarGrpcService"/> (validation, hot-tier hit, evaluation), serialize the answer.
/// What it leaves out is the transport: HTTP/2 framing and grpc-dotnet's call dispatch.
/// </summary>
[MemoryDiagnoser]
public class GrpcServiceBenchmarks
{
    private const int Customers = 10_000;

    private SidecarGrpcService _service = null!;
    private SidecarMetrics _metrics = null!;
    private TieredEntitlementCache _cache = null!;
    private BenchCallContext _context = null!;
    private byte[] _booleanRequest = null!;
    private byte[] _meteredRequest = null!;
    private GetBooleanEntitlementRequest _parsedBoolean = null!;
    private ArrayBufferWriter<byte> _output = null!;
    private string _file = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        // Settings exactly as the host loads them; file mode needs a file that exists (the store is filled below).
        _file = Path.Combine(Path.GetTempPath(), "sidecar-bench-entitlements-" + Environment.ProcessId + ".json");
        await File.WriteAllTextAsync(_file, "{\"customers\":[]}").ConfigureAwait(false);
        var env = new Dictionary<string, string> { ["ENTITLEMENTS_FILE"] = _file, ["GRPC_PORT"] = "50051", ["METRICS_PORT"] = "8081" };
        var settings = SidecarSettings.Load(new EnvReader(name => env.GetValueOrDefault(name)));

        var time = new FixedTime(DateTimeOffset.FromUnixTimeMilliseconds(SampleData.NowMs));
        _metrics = new SidecarMetrics();
        _cache = new TieredEntitlementCache(
            settings.Cache, new HotTier(long.MaxValue), [], FileSource.Open(_file, NullLogger.Instance, time), IFetchCoordinator.None, NullLogger.Instance, time);
        var plan = SampleData.State("acme");
        for (var i = 0; i < Customers; i++)
        {
            var key = new CustomerKey(SampleData.CustomerId(i), null);
            await _cache.ApplySnapshotAsync(EntitlementsStateMapper.ToSnapshot(key, plan, SampleData.NowMs)).ConfigureAwait(false);
        }

        _service = new SidecarGrpcService(_cache, settings.Cache, settings.Fallbacks, _metrics, NullLogger<SidecarGrpcService>.Instance, time);
        _context = new BenchCallContext();
        _booleanRequest = new GetBooleanEntitlementRequest { CustomerId = SampleData.CustomerId(4242), FeatureId = "feature-sso" }.ToByteArray();
        _meteredRequest = new GetMeteredEntitlementRequest
        {
            CustomerId = SampleData.CustomerId(4242),
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 1 },
        }.ToByteArray();
        _parsedBoolean = GetBooleanEntitlementRequest.Parser.ParseFrom(_booleanRequest);
        _output = new ArrayBufferWriter<byte>(1024);

        var check = await _service.GetBooleanEntitlement(_parsedBoolean, _context).ConfigureAwait(false);
        if (!check.HasAccess || check.IsFallback)
        {
            throw new InvalidOperationException("the service does not answer the check from the hot tier");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _cache.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
        File.Delete(_file);
    }

    /// <summary>The service method alone on an already parsed request (completes synchronously on a hit).</summary>
    [Benchmark(Baseline = true)]
    public GetBooleanEntitlementResponse ServiceBoolean() => _service.GetBooleanEntitlement(_parsedBoolean, _context).Result;

    [Benchmark]
    public int WholeCheckBoolean()
    {
        var request = GetBooleanEntitlementRequest.Parser.ParseFrom(_booleanRequest);
        var response = _service.GetBooleanEntitlement(request, _context).Result;
        _output.ResetWrittenCount();
        response.WriteTo(_output);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int WholeCheckMetered()
    {
        var request = GetMeteredEntitlementRequest.Parser.ParseFrom(_meteredRequest);
        var response = _service.GetMeteredEntitlement(request, _context).Result;
        _output.ResetWrittenCount();
        response.WriteTo(_output);
        return _output.WrittenCount;
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    /// <summary>The per-call context the service reads (only its cancellation token, on the miss path).</summary>
    private sealed class BenchCallContext : ServerCallContext
    {
        private readonly Metadata _headers = [];
        private readonly Metadata _trailers = [];

        protected override string MethodCore => "/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement";
        protected override string HostCore => "127.0.0.1";
        protected override string PeerCore => "ipv4:127.0.0.1:1";
        protected override DateTime DeadlineCore => DateTime.MaxValue;
        protected override Metadata RequestHeadersCore => _headers;
        protected override CancellationToken CancellationTokenCore => CancellationToken.None;
        protected override Metadata ResponseTrailersCore => _trailers;
        protected override Status StatusCore { get; set; }
        protected override WriteOptions? WriteOptionsCore { get; set; }
        protected override AuthContext AuthContextCore => new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
            throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
