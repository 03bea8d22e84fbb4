using Sidecar.Tests.Shared;
using Sidecar.Cache.Redis;
using Sidecar.Core.Model;
using StackExchange.Redis;
using Stigg.Sidecar.V1;

namespace Sidecar.Cache.Tests.Redis;

/// <summary>Tier connections, a raw connection and sample data for one test, isolated by a unique key prefix.</summary>
public sealed class RedisTestKit : IAsyncDisposable
{
    public const long MayFirst = 1_746_057_600_000;   // 2025-05-01T00:00:00Z
    public const long JuneFirst = 1_748_736_000_000;  // 2025-06-01T00:00:00Z
    public const long Anchor = 1_735_689_600_000;     // 2025-01-01T00:00:00Z
    public const long UsageTs = 1_746_865_800_000;    // 2025-05-10T08:30:00Z

    private readonly List<RedisConnection> _connections = [];

    private RedisTestKit(RedisServer server, ConnectionMultiplexer raw, string? password)
    {
        Server = server;
        Raw = raw;
        Password = password;
        Prefix = "t" + Guid.NewGuid().ToString("N")[..12];
    }

    public RedisServer Server { get; }

    public ConnectionMultiplexer Raw { get; }

    public IDatabase Db => Raw.GetDatabase();

    public string Prefix { get; }

    public string? Password { get; }

    public CapturingLogger Logger { get; } = new();

    public static async Task<RedisTestKit> CreateAsync(RedisServer server, string? password = null)
    {
        var config = new ConfigurationOptions { EndPoints = { { "127.0.0.1", server.Port } }, Password = password, AbortOnConnectFail = false };
        var raw = await ConnectionMultiplexer.ConnectAsync(config);
        return new RedisTestKit(server, raw, password);
    }

    /// <summary>
    /// Tier options for this kit. The functional tests use generous timeouts: the build machine can be loaded far
    /// beyond the 250 ms production bound, and what they check (layout, guards, coordination) does not depend on it.
    /// The outage tests pass their own.
    /// </summary>
    public RedisTierOptions Options(int ttl = 604800, TimeSpan? operationTimeout = null) => new()
    {
        EnvironmentPrefix = Prefix,
        Host = "127.0.0.1",
        Port = Server.Port,
        Password = Password,
        KeysTtlSeconds = ttl,
        OperationTimeout = operationTimeout ?? TimeSpan.FromSeconds(10),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>A connection of its own (= one sidecar), logging to <paramref name="logger"/> or the kit's; closed with the kit.</summary>
    public async Task<RedisConnection> ConnectAsync(int ttl = 604800, CapturingLogger? logger = null, TimeSpan? operationTimeout = null)
    {
        var connection = await RedisConnection.ConnectAsync(Options(ttl, operationTimeout), logger ?? Logger, TimeProvider.System, CancellationToken.None);
        _connections.Add(connection);
        Assert.True(connection.IsConnected, "The connection to the test redis-server did not come up.");
        return connection;
    }

    /// <summary>A tier on its own connection (= one sidecar), logging to <paramref name="logger"/> or the kit's.</summary>
    public async Task<RedisTier> TierAsync(int ttl = 604800, CapturingLogger? logger = null, TimeSpan? operationTimeout = null) =>
        new(await ConnectAsync(ttl, logger, operationTimeout));

    public string K(string suffix) => $"{Prefix}:{suffix}";

    /// <summary>
    /// Waits for a condition with a deadline (polling: some states, such as a reconnect or a lock's expiry, have no
    /// event to wait on). Fails the test when the deadline passes.
    /// </summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan deadline, string what)
    {
        var until = DateTime.UtcNow + deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, $"Timed out waiting for: {what}");
            await Task.Delay(25);
        }
    }

    public async Task<string[]> KeysAsync()
    {
        var server = Raw.GetServer("127.0.0.1", Server.Port);
        var keys = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: Prefix + "*"))
        {
            keys.Add(key!);
        }

        keys.Sort(StringComparer.Ordinal);
        return [.. keys];
    }

    public Task SetAsync(string suffix, string value) => Db.StringSetAsync(K(suffix), value);

    public async Task<string?> GetAsync(string suffix) => await Db.StringGetAsync(K(suffix));

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await Raw.DisposeAsync();
    }

    /// <summary>A customer with a metered feature, a boolean, an enum, a credit-backed feature and one credit.</summary>
    public static CustomerSnapshot Sample(CustomerKey key, long entitlementsTs, double apiCalls = 250, long usageTs = UsageTs, long fetchedAt = UsageTs + 1000) =>
        new(
            key,
            null,
            [
                new FeatureEntitlement
                {
                    FeatureId = "feature-api-calls",
                    FeatureType = FeatureType.Number,
                    MeterType = MeterType.Incremental,
                    DisplayName = "API calls",
                    Units = "call",
                    UnitsPlural = "calls",
                    UsageLimit = 1000,
                    CurrentUsage = apiCalls,
                    EntitlementUpdatedAt = entitlementsTs,
                    UsageUpdatedAt = usageTs,
                    UsagePeriodAnchor = Anchor,
                    UsagePeriodStart = MayFirst,
                    UsagePeriodEnd = JuneFirst,
                    ResetPeriod = EntitlementResetPeriod.Month,
                },
                new FeatureEntitlement
                {
                    FeatureId = "feature-sso",
                    FeatureType = FeatureType.Boolean,
                    DisplayName = "SSO",
                    EntitlementUpdatedAt = entitlementsTs,
                },
                new FeatureEntitlement
                {
                    FeatureId = "feature-region",
                    FeatureType = FeatureType.Enum,
                    DisplayName = "Region",
                    EnumValues = ["eu", "us"],
                    DeniedReason = AccessDeniedReason.Revoked,
                    EntitlementUpdatedAt = entitlementsTs,
                    ValidUntil = JuneFirst,
                },
                new FeatureEntitlement
                {
                    FeatureId = "feature-ai",
                    FeatureType = FeatureType.Boolean,
                    DisplayName = "AI",
                    CreditCurrencyId = "ai-credits",
                    CreditRateAmount = 2,
                    EntitlementUpdatedAt = entitlementsTs,
                },
            ],
            [
                new CreditGrant
                {
                    CurrencyId = "ai-credits",
                    DisplayName = "AI credits",
                    UnitSingular = "credit",
                    UnitPlural = "credits",
                    UsageLimit = 5000,
                    CurrentUsage = 1200,
                    EntitlementUpdatedAt = entitlementsTs,
                    UsageUpdatedAt = usageTs,
                    UsagePeriodEnd = JuneFirst,
                },
            ],
            entitlementsTs,
            fetchedAt);
}
