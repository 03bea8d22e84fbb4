using Grpc.Net.Client;
using Sidecar.Host;
using Sidecar.Host.Configuration;
using Sidecar.Tests.Shared;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>An in-process sidecar on free loopback ports, with a real gRPC channel to it.</summary>
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

    /// <summary>Settings as the environment would give them, plus free ports and a private cache directory.</summary>
    public static SidecarSettings SettingsFrom(Dictionary<string, string> env)
    {
        env.TryAdd("GRPC_PORT", TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture));
        env.TryAdd("METRICS_PORT", TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture));
        env.TryAdd("CACHE_DIR", Path.Combine(Path.GetTempPath(), "sidecar-test-" + Guid.NewGuid().ToString("N")));
        env.TryAdd("LOG_LEVEL", "debug");
        env.TryAdd("BIND_ADDRESS", "127.0.0.1");
        return SidecarSettings.Load(new EnvReader(name => env.GetValueOrDefault(name)));
    }

    public static async Task<SidecarHost> StartAsync(Dictionary<string, string> env, TimeProvider? time = null)
    {
        var settings = SettingsFrom(env);
        var log = new SynchronizedMemoryStream();
        var app = await SidecarApp.StartAsync(settings, time ?? TimeProvider.System, log, CancellationToken.None);
        return new SidecarHost(app, settings, log);
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
        StartAsync(new Dictionary<string, string> { ["ENTITLEMENTS_FILE"] = RepoPaths.SampleEntitlements }, new FixedTime(FixedTime.SampleNow));

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        await App.DisposeAsync();
        if (Directory.Exists(Settings.CacheDirectory))
        {
            Directory.Delete(Settings.CacheDirectory, recursive: true);
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
