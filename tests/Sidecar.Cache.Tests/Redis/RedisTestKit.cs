using Sidecar.Cache.Redis;
using Sidecar.Testing;
using StackExchange.Redis;

namespace Sidecar.Cache.Tests.Redis;

/// <summary>Tier connections and a raw connection for one test, isolated by a unique key prefix (sample data: the kit's <see cref="Snapshots.Sample"/>).</summary>
public sealed class RedisTestKit : IAsyncDisposable
{
    private readonly List<RedisConnection> _connections = [];
    private readonly List<VerifyNoErrorsScope> _scopes = [new()];

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

    /// <summary>The kit's log record (one per simulated sidecar: <see cref="NewLogger"/>); an unexpected error fails the test when the kit is disposed.</summary>
    public VerifyNoErrorsScope Logs => _scopes[0];

    public CapturingLogger Logger => Logs.Logger;

    /// <summary>Another sidecar's log, held to the same rule: no unexpected errors by the end of the test.</summary>
    public CapturingLogger NewLogger()
    {
        var scope = new VerifyNoErrorsScope();
        _scopes.Add(scope);
        return scope.Logger;
    }

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
        foreach (var scope in _scopes)
        {
            scope.Dispose();
        }
    }
}
