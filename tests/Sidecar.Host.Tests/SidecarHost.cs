using Grpc.Net.Client;
using Sidecar.Host;
using Sidecar.Host.Configuration;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>
/// An in-process sidecar on loopback ports it has bound (see <see cref="StartAsync"/>), with a real gRPC channel to
/// it. Built from the kit's pieces (ports, clocks, sample paths); what is particular to the host (its settings and
/// app) stays here.
/// </summary>
internal sealed class SidecarHost : IAsyncDisposable
{
    private SidecarHost(SidecarApp app, SidecarSettings settings, MemoryStream log)
    {
        App = app;
        Settings = settings;
        Log = log;
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{settings.Server.GrpcPort}");
        Client = new SidecarService.SidecarServiceClient(Channel);
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{settings.Server.MetricsPort}") };
    }

    public SidecarApp App { get; }

    public SidecarSettings Settings { get; }

    public MemoryStream Log { get; }

    public GrpcChannel Channel { get; }

    public SidecarService.SidecarServiceClient Client { get; }

    public HttpClient Http { get; }

    /// <summary>Plain HTTP/2 (prior knowledge, no TLS) to the gRPC port, as a gRPC client speaks it.</summary>
    public HttpClient GrpcPortHttp() => new()
    {
        BaseAddress = new Uri($"http://127.0.0.1:{Settings.Server.GrpcPort}"),
        DefaultRequestVersion = System.Net.HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public string LogText
    {
        get
        {
            lock (Log)
            {
                return System.Text.Encoding.UTF8.GetString(Log.ToArray());
            }
        }
    }

    /// <summary>Settings as the environment would give them, plus a private cache directory and test defaults.</summary>
    public static SidecarSettings SettingsFrom(Dictionary<string, string> env)
    {
        env.TryAdd("CACHE_DIR", Path.Combine(Path.GetTempPath(), "sidecar-test-" + Guid.NewGuid().ToString("N")));
        env.TryAdd("LOG_LEVEL", "debug");
        env.TryAdd("BIND_ADDRESS", "127.0.0.1");

        // In process, a first check pays for JIT compilation of the whole miss path, which on 2 loaded cores can exceed
        // the 300 ms default and turn a real answer into a fallback. Tests of the budget itself set it.
        env.TryAdd("ENTITLEMENTS_MISS_BUDGET_MS", "30000");
        return SidecarSettings.Load(new EnvReader(name => env.GetValueOrDefault(name)));
    }

    /// <summary>
    /// Starts a sidecar in this process. GRPC_PORT and METRICS_PORT, unless <paramref name="env"/> sets them, are
    /// candidates; when Kestrel cannot bind one because it was taken in the meantime, the sidecar is started again on
    /// new ones, so the ports in <paramref name="env"/> and <see cref="Settings"/> afterwards are ports it holds.
    /// </summary>
    public static Task<SidecarHost> StartAsync(Dictionary<string, string> env, TimeProvider? time = null)
    {
        var pickGrpc = !env.ContainsKey("GRPC_PORT");
        var pickMetrics = !env.ContainsKey("METRICS_PORT");
        return LoopbackPort.StartAsync(2, async ports =>
        {
            if (pickGrpc)
            {
                env["GRPC_PORT"] = ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            if (pickMetrics)
            {
                env["METRICS_PORT"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            var settings = SettingsFrom(env);
            var log = new SynchronizedMemoryStream();
            try
            {
                var app = await SidecarApp.StartAsync(settings, time ?? TimeProvider.System, log, CancellationToken.None);
                return new SidecarHost(app, settings, log);
            }
            catch (Exception ex) when ((pickGrpc || pickMetrics) && LoopbackPort.IsAddressInUse(ex))
            {
                DeleteCacheDirectory(settings);
                throw;
            }
        }, "the in-process sidecar");
    }

    /// <summary>Environment for upstream mode against <paramref name="emulator"/>, plus <paramref name="extra"/> settings.</summary>
    public static Dictionary<string, string> UpstreamEnv(Sidecar.Emulator.EmulatorServer emulator, params (string Name, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["SERVER_API_KEY"] = emulator.ApiKey,
            ["API_URL"] = emulator.BaseUrl.ToString(),
        };
        foreach (var (name, value) in extra)
        {
            env[name] = value;
        }

        return env;
    }

    /// <summary>Settings that put a sidecar on a shared Redis (prefix "test"), without FASTER and events.</summary>
    public static (string, string)[] SharedRedis(RedisServer redis, params (string Name, string Value)[] extra) =>
    [
        ("WS_ENABLED", "false"),
        ("CACHE_PERSISTENCE", "none"),
        ("REDIS_ENVIRONMENT_PREFIX", "test"),
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        .. extra,
    ];

    public static Task<SidecarHost> StartWithSampleFileAsync() =>
        StartAsync(new Dictionary<string, string> { ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements }, Clocks.WallAtSampleNow());

    /// <summary>
    /// Event ids of error lines the test expects (e.g. a refused API key). Any other error or fatal line the sidecar
    /// logged fails the test when the host is disposed (after grpc-dotnet's <c>VerifyNoErrorsScope</c>).
    /// </summary>
    public HashSet<int> ExpectedErrors { get; } = [];

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        await App.DisposeAsync();
        DeleteCacheDirectory(Settings);
        var unexpected = UnexpectedErrors();
        Assert.True(unexpected.Count == 0, "the sidecar logged unexpected errors:\n" + string.Join("\n", unexpected));
    }

    private List<string> UnexpectedErrors()
    {
        var unexpected = new List<string>();
        foreach (var line in LogText.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var json = System.Text.Json.JsonDocument.Parse(line);
            var root = json.RootElement;
            if (root.GetProperty("level").GetString() is not ("error" or "fatal"))
            {
                continue;
            }

            var id = root.TryGetProperty("event", out var e) ? e.GetInt32() : 0;
            if (!ExpectedErrors.Contains(id))
            {
                unexpected.Add(line);
            }
        }

        return unexpected;
    }

    private static void DeleteCacheDirectory(SidecarSettings settings)
    {
        if (Directory.Exists(settings.CacheDirectory))
        {
            Directory.Delete(settings.CacheDirectory, recursive: true);
        }
    }

    /// <summary>The logger writes from several threads; tests read it while it runs.</summary>
    private sealed class SynchronizedMemoryStream : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        public override void Write(byte[] buffer, int offset, int count)
        {
            lock (this)
            {
                base.Write(buffer, offset, count);
            }
        }
    }
}

/// <summary>One sidecar on the sample entitlements file, shared by the read-only tests of a class.</summary>
public sealed class SampleFileSidecar : IAsyncLifetime
{
    internal SidecarHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await SidecarHost.StartWithSampleFileAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
