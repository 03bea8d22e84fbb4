namespace Sidecar.Cache.Redis;

/// <summary>
/// Connection and layout settings of the Redis tier; the fields mirror the seed's <c>REDIS_*</c> variables
/// (stigg-behaviour §1.2). The password is only handed to the client library, never logged.
/// </summary>
public sealed record RedisTierOptions
{
    /// <summary>First segment of every key (<c>REDIS_ENVIRONMENT_PREFIX</c>, required).</summary>
    public required string EnvironmentPrefix { get; init; }

    public string Host { get; init; } = "localhost";

    public int Port { get; init; } = 6379;

    public int Db { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    public bool Tls { get; init; }

    /// <summary>
    /// Expiry of every key written, <c>#timestamp</c> siblings included (<c>REDIS_KEYS_TTL_IN_SECS</c>, default
    /// 7 days). A negative value means no expiry (plain <c>SET</c>); 0 is rejected because Redis refuses <c>EX 0</c>.
    /// </summary>
    public int KeysTtlSeconds { get; init; } = 604800;

    /// <summary>How long a request may wait on Redis for one operation before it counts as a miss / no-op.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Budget of one connection attempt (at start-up and on every reconnect).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    internal TimeSpan? KeysTtl => KeysTtlSeconds < 0 ? null : TimeSpan.FromSeconds(KeysTtlSeconds);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(EnvironmentPrefix))
        {
            throw new ArgumentException("The Redis environment prefix is required.", nameof(EnvironmentPrefix));
        }

        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException("The Redis host is required.", nameof(Host));
        }

        if (Port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "The Redis port must be between 1 and 65535.");
        }

        if (Db < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Db), Db, "The Redis database index must not be negative.");
        }

        if (KeysTtlSeconds == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(KeysTtlSeconds), KeysTtlSeconds, "The Redis key TTL must be positive, or negative for no expiry.");
        }

        if (OperationTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(OperationTimeout), OperationTimeout, "The Redis operation timeout must be positive.");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "The Redis connect timeout must be positive.");
        }
    }
}
