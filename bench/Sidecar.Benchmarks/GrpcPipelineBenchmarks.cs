using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Grpc.Health.V1;
using Sidecar.Host;
using Sidecar.Host.Configuration;
using Stigg.Sidecar.V1;

namespace Sidecar.Benchmarks;

/// <summary>
/// A whole unary call inside the process, as the host is assembled (<see cref="SidecarApp"/> on the sample file):
/// ASP.NET Core hosting, our middleware, routing, grpc-dotnet's dispatch, the service, serialization — everything but
/// HTTP/2 framing and sockets (<see cref="InProcessServer"/> stands in for Kestrel's stream). The bytes allocated per
/// call are the figure to read; <c>HealthCheck</c> is the floor, as in the load harness.
/// </summary>
[MemoryDiagnoser]
public class GrpcPipelineBenchmarks
{
    private const int GrpcPort = 50051;
    private const string Service = "/stigg.sidecar.v1.SidecarService/";

    private SidecarApp _app = null!;
    private InProcessServer _server = null!;
    private string _file = null!;
    private byte[] _boolean = null!;
    private byte[] _metered = null!;
    private byte[] _health = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _file = Path.Combine(Path.GetTempPath(), "sidecar-bench-pipeline-" + Environment.ProcessId + ".json");
        await using (var sample = typeof(SampleData).Assembly.GetManifestResourceStream("entitlements.json")!)
        await using (var file = File.Create(_file))
        {
            await sample.CopyToAsync(file).ConfigureAwait(false);
        }

        var env = new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FILE"] = _file,
            ["GRPC_PORT"] = GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["METRICS_PORT"] = "8081",
            ["LOG_LEVEL"] = "warn",
        };
        var settings = SidecarSettings.Load(new EnvReader(name => env.GetValueOrDefault(name)));
        _server = new InProcessServer(GrpcPort);
        _app = await SidecarApp.StartAsync(settings, TimeProvider.System, Stream.Null, _server, CancellationToken.None).ConfigureAwait(false);

        _boolean = Frame(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });
        _metered = Frame(new GetMeteredEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 1 },
        });
        _health = Frame(new HealthCheckRequest());

        // What is measured must be a cached answer, not an error or a fallback.
        var answer = GetBooleanEntitlementResponse.Parser.ParseFrom(Check(_server.Call(Service + "GetBooleanEntitlement", _boolean)));
        if (!answer.HasAccess || answer.IsFallback)
        {
            throw new InvalidOperationException("the pipeline does not answer the check from the cache: " + answer);
        }

        Check(_server.Call(Service + "GetMeteredEntitlement", _metered));
        Check(_server.Call("/grpc.health.v1.Health/Check", _health));
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        File.Delete(_file);
    }

    [Benchmark(Baseline = true)]
    public int HealthCheck() => _server.Call("/grpc.health.v1.Health/Check", _health).Body.Length;

    [Benchmark]
    public int Boolean() => _server.Call(Service + "GetBooleanEntitlement", _boolean).Body.Length;

    [Benchmark]
    public int Metered() => _server.Call(Service + "GetMeteredEntitlement", _metered).Body.Length;

    private static byte[] Frame(IMessage message)
    {
        var frame = new byte[5 + message.CalculateSize()];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)(frame.Length - 5));
        message.WriteTo(frame.AsSpan(5));
        return frame;
    }

    private static byte[] Check(InProcessResponse response)
    {
        if (response.HttpStatus != 200 || response.GrpcStatus != "0" || response.Body.Length < 5)
        {
            throw new InvalidOperationException($"the call failed: HTTP {response.HttpStatus}, grpc-status {response.GrpcStatus ?? "(none)"}, {response.Body.Length} body bytes");
        }

        return response.Body[5..].ToArray();
    }
}
