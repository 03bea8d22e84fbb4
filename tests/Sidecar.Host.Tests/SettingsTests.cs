using Sidecar.Host.Configuration;
using Sidecar.Testing;

namespace Sidecar.Host.Tests;

public sealed class SettingsTests
{
    private static SidecarSettings Load(params (string Name, string Value)[] vars)
    {
        var env = vars.ToDictionary(v => v.Name, v => v.Value);
        return SidecarSettings.Load(new EnvReader(name => env.GetValueOrDefault(name)));
    }

    [Fact]
    public void Load_OnlyApiKey_DocumentedDefaults()
    {
        var s = Load(("SERVER_API_KEY", "key"));

        Assert.Equal(SourceMode.Stigg, s.Mode);
        var stigg = s.Stigg!;
        Assert.Equal(new Uri("https://api.stigg.io"), stigg.ApiUrl);
        Assert.Equal(new Uri("https://edge.api.stigg.io"), stigg.EdgeApiUrl);
        Assert.Equal(new Uri("wss://api.stigg.io"), stigg.WsUrl);
        Assert.True(stigg.EdgeEnabled);
        Assert.True(stigg.WsEnabled);
        Assert.Equal(TimeSpan.FromSeconds(10), stigg.EntitlementsTimeout);
        Assert.Null(s.Redis);
        Assert.NotNull(s.Faster);
        Assert.Equal(TimeSpan.FromSeconds(30), s.Faster!.CheckpointInterval);
        Assert.Equal(80, s.Server.GrpcPort);
        Assert.Equal(8443, s.Server.LegacyTlsPort);
        Assert.Equal(8080, s.Server.MetricsPort);
        Assert.Equal("/livez", s.Server.HealthPath);
        Assert.Equal("/readyz", s.Server.ReadyPath);
        Assert.Null(s.Server.BindAddress);
        Assert.Equal(LogLevelSetting.Warn, s.Logging.Level);
        Assert.Equal("msg", s.Logging.MessageKey);
        Assert.Equal("err", s.Logging.ErrorKey);
        Assert.Equal(0, s.Fallbacks.Count);
        Assert.Equal(TimeSpan.FromSeconds(30), s.Cache.FreshnessWindow);
        Assert.False(s.Cache.RefetchOnEveryCheck);
        Assert.Equal(SidecarSettings.DefaultCacheBudget(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes), s.CacheMaxSizeBytes);
    }

    [Theory]
    [InlineData(256L << 20, (long)((256L << 20) / 20 * 17) - (168L << 20))] // a small container: 85 % less the base, ~49 MiB
    [InlineData(1L << 30, 512L << 20)] // from about 480 MiB on: half of what the process may use
    [InlineData(24L << 30, 12L << 30)]
    public void DefaultCacheBudget_KeepsBudgetPlusBaseWithinWhatTheProcessMayUse(long available, long expected)
    {
        var budget = SidecarSettings.DefaultCacheBudget(available);

        Assert.Equal(expected, budget);
        Assert.True(budget + SidecarSettings.ProcessBaseBytes <= available * 0.95, "no headroom left");
    }

    [Fact]
    public void DefaultCacheBudget_TooLittleMemoryForTheBase_TakesTheFloor()
    {
        Assert.Equal(8L << 20, SidecarSettings.DefaultCacheBudget(128L << 20));
    }

    [Fact]
    public void Load_Budget_HeapLimitIsBudgetPlusHeapBase()
    {
        var s = Load(("SERVER_API_KEY", "key"), ("CACHE_MAX_SIZE_BYTES", "16777216"));

        Assert.Equal(16777216 + SidecarSettings.HeapBaseBytes, s.HeapLimitBytes);
        Assert.Equal(16777216 + (2 * SidecarSettings.HeapBaseBytes), s.HeapHardLimitBytes);
        Assert.True(SidecarSettings.HeapBaseBytes < SidecarSettings.ProcessBaseBytes, "the process base includes the heap base");
    }

    [Fact]
    public void Load_RedisPrefix_DocumentedRedisDefaults()
    {
        var redis = Load(("SERVER_API_KEY", "key"), ("REDIS_ENVIRONMENT_PREFIX", "prod")).Redis!;

        Assert.Equal("prod", redis.EnvironmentPrefix);
        Assert.Equal("localhost", redis.Host);
        Assert.Equal(6379, redis.Port);
        Assert.Equal(0, redis.Db);
        Assert.False(redis.Tls);
        Assert.Equal(604800, redis.KeysTtlSeconds);
        Assert.Equal(TimeSpan.FromMilliseconds(250), redis.OperationTimeout);
    }

    [Fact]
    public void Load_Persistence_HotTierGetsWhatFasterLeaves()
    {
        var withFaster = Load(("SERVER_API_KEY", "key"), ("CACHE_MAX_SIZE_BYTES", "104857600"));
        var without = Load(("SERVER_API_KEY", "key"), ("CACHE_MAX_SIZE_BYTES", "104857600"), ("CACHE_PERSISTENCE", "none"));

        Assert.Null(without.Faster);
        Assert.Equal(104857600, without.HotBudgetBytes);
        var faster = withFaster.Faster!;
        Assert.Equal(104857600 - faster.EffectiveMemoryBytes - faster.EffectivePageBytes - (faster.EffectiveMaxIndexBuckets * 64), withFaster.HotBudgetBytes);
    }

    [Fact]
    public void Load_LocalApiUrl_EdgeAndWsFollowIt()
    {
        var s = Load(("SERVER_API_KEY", "key"), ("API_URL", "http://127.0.0.1:3999"));

        Assert.Equal(new Uri("http://127.0.0.1:3999"), s.Stigg!.EdgeApiUrl);
        Assert.Equal(new Uri("ws://127.0.0.1:3999"), s.Stigg.WsUrl);
    }

    [Fact]
    public void Load_RemoteApiUrl_EdgeHostPrefixed()
    {
        var s = Load(("SERVER_API_KEY", "key"), ("API_URL", "https://api.example.com"));

        Assert.Equal(new Uri("https://edge.api.example.com"), s.Stigg!.EdgeApiUrl);
        Assert.Equal(new Uri("wss://api.example.com"), s.Stigg.WsUrl);
    }

    [Theory]
    [InlineData("GRPC_PORT", "eighty")]
    [InlineData("GRPC_PORT", "70000")]
    [InlineData("METRICS_PORT", "-1")]
    [InlineData("EDGE_ENABLED", "maybe")]
    [InlineData("WS_ENABLED", "2")]
    [InlineData("REDIS_PORT", "x")]
    [InlineData("REDIS_TLS", "yes please")]
    [InlineData("REDIS_KEYS_TTL_IN_SECS", "1.5")]
    [InlineData("CACHE_MAX_SIZE_BYTES", "lots")]
    [InlineData("LOG_LEVEL", "verbose")]
    [InlineData("API_URL", "not a url")]
    [InlineData("WS_URL", "http://wrong-scheme")]
    [InlineData("ENTITLEMENTS_FALLBACK", "{not json")]
    [InlineData("OFFLINE", "perhaps")]
    [InlineData("HEALTH_ENDPOINT_URL", "has space")]
    [InlineData("CACHE_PERSISTENCE", "tape")]
    [InlineData("ENTITLEMENTS_FILE", "/no/such/file.json")]
    [InlineData("BIND_ADDRESS", "localhost-ish")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")]
    public void Load_BadValue_ErrorNamesTheVariable(string name, string value)
    {
        var ex = Assert.Throws<SettingsException>(() => Load(("SERVER_API_KEY", "key"), (name, value)));

        Assert.StartsWith(name + ":", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Load_NoApiKeyInUpstreamMode_Refused()
    {
        var ex = Assert.Throws<SettingsException>(() => Load());

        Assert.StartsWith("SERVER_API_KEY:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfflineWithoutApiKey_Accepted()
    {
        Assert.Equal(SourceMode.Offline, Load(("OFFLINE", "true")).Mode);
    }

    [Fact]
    public void Load_EntitlementsFile_FileMode()
    {
        Assert.Equal(SourceMode.File, Load(("ENTITLEMENTS_FILE", RepoPaths.SampleEntitlements)).Mode);
    }

    [Fact]
    public void Load_SamePortTwice_Refused()
    {
        var ex = Assert.Throws<SettingsException>(() => Load(("SERVER_API_KEY", "k"), ("GRPC_PORT", "9000"), ("METRICS_PORT", "9000")));

        Assert.StartsWith("METRICS_PORT:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_IncludeApiKeyAndRedisPassword()
    {
        var s = Load(("SERVER_API_KEY", "sk-123"), ("REDIS_PASSWORD", "hunter2"));

        Assert.Equal(["sk-123", "hunter2"], s.Secrets);
    }

    [Fact]
    public void Load_ReadsExactlyTheDeclaredVariables()
    {
        // The table --help prints is the one the parser reads: no variable is parsed without being declared, and
        // none is declared without being parsed.
        var read = new HashSet<string>();
        SidecarSettings.Load(new EnvReader(name =>
        {
            read.Add(name);
            return name == "SERVER_API_KEY" ? "key" : null;
        }));

        Assert.Equal(EnvVariables.All.Select(v => v.Name).Order(), read.Order());
    }

    [Fact]
    public void Variables_EachDeclaredOnceWithAMeaning()
    {
        Assert.Equal(EnvVariables.All.Count, EnvVariables.All.Select(v => v.Name).Distinct().Count());
        Assert.All(EnvVariables.All, v => Assert.False(string.IsNullOrWhiteSpace(v.Description)));
    }

    [Fact]
    public void Load_OtelServiceName_DefaultsToSidecarAndIsOverridable()
    {
        Assert.Equal("sidecar", Load(("SERVER_API_KEY", "key")).Telemetry.ServiceName);
        Assert.Equal("billing", Load(("SERVER_API_KEY", "key"), ("OTEL_SERVICE_NAME", "billing")).Telemetry.ServiceName);
        Assert.Null(Load(("SERVER_API_KEY", "key")).Telemetry.OtlpEndpoint);
    }

    [Fact]
    public void Load_StiggUserAgent_CarriesTheVersion()
    {
        Assert.Equal("Sidecar.Aot/" + SidecarVersion.Informational, Load(("SERVER_API_KEY", "key")).Stigg!.UserAgent);
    }
}
