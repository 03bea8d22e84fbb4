using System.Net;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Smoke.Tests;

/// <summary>Issue 11 on the AOT binary: the command line, the health probe's address, the management port, /metrics.</summary>
[Collection(AotCollection.Name)]
public sealed class OperationsSmokeTests(AotBinary binary)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public async Task Help_ListsVariablesWithDefaults_WithoutStarting(string flag)
    {
        // No environment at all: a start would refuse with "SERVER_API_KEY: required" and exit 2.
        var (exit, output) = await RunAsync([], flag);

        Assert.Equal(0, exit);
        var text = string.Join('\n', output);
        Assert.Matches(@"SERVER_API_KEY +Stigg server API key", text);
        Assert.Matches(@"METRICS_PORT +.*\[default: 8080\]", text);
        Assert.Matches(@"BIND_ADDRESS +.*\[default: unset\]", text);
        Assert.DoesNotContain("refusing to start", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_InformationalVersionWithCommit_WithoutStarting()
    {
        var (exit, output) = await RunAsync([], "--version");

        Assert.Equal(0, exit);
        Assert.Matches(new Regex(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?\+[0-9a-f]{40}$"), Assert.Single(output));
    }

    [Fact]
    public async Task UnknownArgument_OneLine_Exit2()
    {
        var (exit, output) = await RunAsync([], "--port=80");

        Assert.Equal(2, exit);
        Assert.Equal("sidecar: unknown argument '--port=80' (sidecar --help lists what it accepts)", Assert.Single(output));
    }

    [Theory]
    [InlineData("::1", "127.0.0.1")]
    [InlineData("127.0.0.1", "::1")]
    public async Task Health_ProbesTheBindAddress(string bindAddress, string otherAddress)
    {
        var env = new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements,
            ["BIND_ADDRESS"] = bindAddress,
        };
        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, env, ReadyTimeout);
        var probeEnv = new Dictionary<string, string>(env) { ["METRICS_PORT"] = sidecar.MetricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture) };

        var live = await RunAsync(probeEnv, "health");
        var ready = await RunAsync(probeEnv, "health", "--ready");
        var elsewhere = await RunAsync(new Dictionary<string, string>(probeEnv) { ["BIND_ADDRESS"] = otherAddress }, "health");

        Assert.Equal((0, "/livez: 200"), (live.Exit, Assert.Single(live.Output)));
        Assert.Equal((0, "/readyz: 200"), (ready.Exit, Assert.Single(ready.Output)));
        Assert.Equal(1, elsewhere.Exit); // nothing listens there: the probe really goes to BIND_ADDRESS
    }

    [Fact]
    public async Task ManagementEndpoints_HostHeaderNamesAnotherPort_Ok()
    {
        await using var sidecar = await StartFileModeAsync([]);
        using var http = new HttpClient { BaseAddress = sidecar.MetricsAddress };

        foreach (var path in new[] { "/livez", "/readyz", "/metrics" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = "localhost:9090"; // kubectl port-forward 9090:<METRICS_PORT>
            using var response = await http.SendAsync(request);
            Assert.Equal((path, HttpStatusCode.OK), (path, response.StatusCode));
        }
    }

    [Fact]
    public async Task Metrics_ServiceNameRuntimeProcessKestrelAndBuildInfo()
    {
        await using var sidecar = await StartFileModeAsync([]);
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);
        await new SidecarService.SidecarServiceClient(channel).GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });
        var version = Assert.Single((await RunAsync([], "--version")).Output);

        var metrics = await ScrapeAsync(sidecar);

        Assert.Matches(@"target_info\{[^}]*service_name=""sidecar""", metrics);
        Assert.Matches($@"(?m)^sidecar_build_info\{{[^}}]*version=""{Regex.Escape(version)}""[^}}]*\}} 1$", metrics);
        Assert.Matches(@"(?m)^dotnet_gc_heap_total_allocated_bytes_total(\{[^}]*\})? [1-9]", metrics); // runtime
        Assert.Matches(@"(?m)^process_memory_usage_bytes(\{[^}]*\})? [1-9]", metrics); // process
        Assert.Matches(@"(?m)^kestrel_active_connections\{[^}]*\} [1-9]", metrics); // Kestrel: at least this scrape's connection
        Assert.Matches(@"(?m)^sidecar_events_state\{[^}]*state=""disabled""[^}]*\} 1", metrics);
    }

    [Fact]
    public async Task Metrics_StiggMode_EventStreamRedisAndOutboxStates()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var emulator = await EmulatorFixture.StartSampleAsync();
        using var cacheDir = new TempDirectory();
        var env = new Dictionary<string, string>
        {
            ["SERVER_API_KEY"] = EmulatorFixture.DefaultApiKey,
            ["API_URL"] = emulator.BaseUrl.ToString(),
            ["CACHE_DIR"] = cacheDir.Path,
            ["REDIS_ENVIRONMENT_PREFIX"] = "smoke",
            ["REDIS_HOST"] = "127.0.0.1",
            ["REDIS_PORT"] = redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, env, ReadyTimeout);

        var live = await Eventually.ValueAsync(() => ScrapeAsync(sidecar), m => Regex.IsMatch(m, @"(?m)^sidecar_events_state\{[^}]*state=""connected""[^}]*\} 1$"), ReadyTimeout, "event stream connected");
        await redis.StopAsync();
        var redisDown = await Eventually.ValueAsync(() => ScrapeAsync(sidecar), m => Regex.IsMatch(m, @"(?m)^sidecar_redis_connected(\{[^}]*\})? 0$"), ReadyTimeout, "Redis reported down");

        Assert.Matches(@"(?m)^sidecar_redis_connected(\{[^}]*\})? 1$", live);
        Assert.Matches(@"(?m)^sidecar_events_state\{[^}]*state=""disabled""[^}]*\} 0$", live);
        Assert.Matches(@"(?m)^sidecar_upstream_circuit(\{[^}]*\})? 0$", live);
        Assert.Matches(@"(?m)^sidecar_usage_outbox_depth(\{[^}]*\})? 0$", live);
        Assert.Matches(@"(?m)^sidecar_events_state\{[^}]*state=""connected""[^}]*\} 1$", redisDown); // one dependency down, the other unaffected
    }

    [Fact]
    public async Task Metrics_OtelServiceName_NamesTheService()
    {
        await using var sidecar = await StartFileModeAsync(new() { ["OTEL_SERVICE_NAME"] = "billing-sidecar" });

        var metrics = await ScrapeAsync(sidecar);

        Assert.Matches(@"target_info\{[^}]*service_name=""billing-sidecar""", metrics);
    }

    [Fact]
    public async Task GrpcReflection_Enabled_ListsAndDescribesTheSidecarService()
    {
        await using var sidecar = await StartFileModeAsync(new() { ["GRPC_REFLECTION"] = "true" });
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);

        var services = await ReflectAsync(channel, new ServerReflectionRequest { ListServices = string.Empty });
        var file = await ReflectAsync(channel, new ServerReflectionRequest { FileContainingSymbol = "stigg.sidecar.v1.SidecarService" });

        Assert.Contains("stigg.sidecar.v1.SidecarService", services.ListServicesResponse.Service.Select(s => s.Name));
        var descriptor = Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(file.FileDescriptorResponse.FileDescriptorProto[0]);
        Assert.Contains(descriptor.Service.Single(s => s.Name == "SidecarService").Method, m => m.Name == "GetBooleanEntitlement");
    }

    [Fact]
    public async Task GrpcReflection_ByDefault_Unimplemented()
    {
        await using var sidecar = await StartFileModeAsync([]);
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);

        var error = await Assert.ThrowsAsync<RpcException>(() => ReflectAsync(channel, new ServerReflectionRequest { ListServices = string.Empty }));

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    private static async Task<ServerReflectionResponse> ReflectAsync(GrpcChannel channel, ServerReflectionRequest request)
    {
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(request);
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        return call.ResponseStream.Current;
    }

    [Fact]
    public async Task Otlp_EndpointSet_MetricsPushedThere()
    {
        // A bare socket stands in for the collector: the first export's request line and headers are read raw.
        using var collector = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        collector.Start();
        await using var sidecar = await StartFileModeAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{((IPEndPoint)collector.LocalEndpoint).Port}",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        });

        using var connection = await collector.AcceptTcpClientAsync().WaitAsync(ReadyTimeout);
        using var reader = new StreamReader(connection.GetStream());
        var requestLine = await reader.ReadLineAsync();
        var headers = new List<string>();
        for (var line = await reader.ReadLineAsync(); !string.IsNullOrEmpty(line); line = await reader.ReadLineAsync())
        {
            headers.Add(line);
        }

        Assert.Equal("POST /v1/metrics HTTP/1.1", requestLine);
        Assert.Contains(headers, h => h.Equals("Content-Type: application/x-protobuf", StringComparison.OrdinalIgnoreCase));
        Assert.Contains("sidecar_build_info", await ScrapeAsync(sidecar), StringComparison.Ordinal); // Prometheus still serves
    }

    private Task<SidecarProcess> StartFileModeAsync(Dictionary<string, string> env)
    {
        env["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements;
        return SidecarProcess.StartReadyAsync(binary.Path, env, ReadyTimeout);
    }

    private static async Task<string> ScrapeAsync(SidecarProcess sidecar)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri(sidecar.MetricsAddress, "/metrics"));
    }

    /// <summary>Runs the binary with <paramref name="args"/> to its exit (it must not serve).</summary>
    private async Task<(int Exit, IReadOnlyCollection<string> Output)> RunAsync(Dictionary<string, string> env, params string[] args)
    {
        await using var process = SidecarProcess.Start(binary.Path, env, null, args);
        await process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, process.Output);
    }
}
