using System.Net;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Model;
using StackExchange.Redis;

namespace Sidecar.Cache.Redis;

/// <summary>
/// Log lines of the Redis connection, tier and distributed refetch (event ids 2200–2299; the FASTER tier has
/// 2100–2199). Never the password. A warn/error line about a failure takes its cause as the <c>{Cause}</c> argument
/// (the host writes it under LOG_ERROR_KEY), redacted by the caller.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2200, Level = LogLevel.Information,
        Message = "Connecting to Redis at {Endpoint} (db {Db}, tls {Tls}, prefix '{Prefix}')")]
    public static partial void Connecting(ILogger logger, string endpoint, int db, bool tls, string prefix);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning,
        Message = "Redis at {Endpoint} is not reachable at start-up ({Cause}); continuing without it and reconnecting in the background")]
    public static partial void NotConnectedAtStart(ILogger logger, string endpoint, string cause);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Warning,
        Message = "Redis connection lost ({ConnectionType} to {Endpoint}): {Cause}; reads answer as misses until it is back")]
    public static partial void ConnectionFailed(ILogger logger, ConnectionType connectionType, EndPoint? endpoint, string cause);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Information,
        Message = "Redis connection restored ({ConnectionType} to {Endpoint})")]
    public static partial void ConnectionRestored(ILogger logger, ConnectionType connectionType, EndPoint? endpoint);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Warning,
        Message = "Redis {Operation} for {CacheKey} failed and was ignored: {Cause} ({Suppressed} similar errors not logged)")]
    public static partial void OperationFailed(ILogger logger, string operation, CustomerKey cacheKey, string cause, int suppressed);

    [LoggerMessage(EventId = 2205, Level = LogLevel.Warning,
        Message = "Redis {Operation} for {CacheKey} ignored: {Cause} ({Suppressed} similar not logged)")]
    public static partial void NotConnected(ILogger logger, string operation, CustomerKey cacheKey, string cause, int suppressed);

    [LoggerMessage(EventId = 2206, Level = LogLevel.Error,
        Message = "Redis key {RedisKey} holds a value that is not valid Stigg cache JSON; treated as a miss: {Cause}")]
    public static partial void CorruptValue(ILogger logger, string redisKey, string cause);

    [LoggerMessage(EventId = 2207, Level = LogLevel.Warning,
        Message = "Redis usage key {RedisKey}: {Cause}; the customer entry is treated as a miss")]
    public static partial void UsageMissing(ILogger logger, string redisKey, string cause);

    [LoggerMessage(EventId = 2208, Level = LogLevel.Debug,
        Message = "Cache data timestamp is after message timestamp: {RedisKey} keeps {StoredTimestamp}, write of {MessageTimestamp} skipped")]
    public static partial void WriteSkippedOlder(ILogger logger, string redisKey, long storedTimestamp, long messageTimestamp);

    [LoggerMessage(EventId = 2209, Level = LogLevel.Debug,
        Message = "Usage update for {CacheKey} skipped: the customer is not in Redis")]
    public static partial void UsageSkippedCustomerAbsent(ILogger logger, CustomerKey cacheKey);

    [LoggerMessage(EventId = 2210, Level = LogLevel.Warning,
        Message = "Redis lock {LockKey}: {Cause}; the write for {CacheKey} was skipped")]
    public static partial void WriteLockBusy(ILogger logger, string lockKey, CustomerKey cacheKey, string cause);

    [LoggerMessage(EventId = 2211, Level = LogLevel.Warning,
        Message = "Redis write for {CacheKey} was skipped: {Cause}")]
    public static partial void WriteConflict(ILogger logger, CustomerKey cacheKey, string cause);

    [LoggerMessage(EventId = 2220, Level = LogLevel.Debug,
        Message = "Another sidecar is fetching {CacheKey}; waiting up to {TimeoutMs} ms for its notification")]
    public static partial void RefetchWaiting(ILogger logger, CustomerKey cacheKey, double timeoutMs);

    [LoggerMessage(EventId = 2221, Level = LogLevel.Debug,
        Message = "This sidecar won the refetch lock for {CacheKey}")]
    public static partial void RefetchWon(ILogger logger, CustomerKey cacheKey);

    [LoggerMessage(EventId = 2222, Level = LogLevel.Warning,
        Message = "Waiting for another sidecar's refetch of {CacheKey} failed: {Cause}; fetching it here")]
    public static partial void RefetchWaitTimedOut(ILogger logger, CustomerKey cacheKey, string cause);

    [LoggerMessage(EventId = 2223, Level = LogLevel.Warning,
        Message = "The sidecar fetching {CacheKey} reported an error: {Cause}")]
    public static partial void RefetchRemoteError(ILogger logger, CustomerKey cacheKey, string cause);

    [LoggerMessage(EventId = 2224, Level = LogLevel.Warning,
        Message = "Distributed refetch coordination for {CacheKey} unavailable ({Cause}); fetching directly ({Suppressed} similar not logged)")]
    public static partial void RefetchCoordinationUnavailable(ILogger logger, CustomerKey cacheKey, string cause, int suppressed);

    [LoggerMessage(EventId = 2225, Level = LogLevel.Warning,
        Message = "The refetch lock {LockKey} was lost while the fetch was still running: {Cause}")]
    public static partial void RefetchLockLost(ILogger logger, string lockKey, string cause);

    [LoggerMessage(EventId = 2226, Level = LogLevel.Debug,
        Message = "Notified that {CacheKey} was stored, but reading it back from Redis missed; fetching it here")]
    public static partial void RefetchReadBackMissed(ILogger logger, CustomerKey cacheKey);

    [LoggerMessage(EventId = 2227, Level = LogLevel.Warning,
        Message = "Could not publish the refetch result for {CacheKey}; waiting sidecars will time out and fetch themselves: {Cause}")]
    public static partial void RefetchPublishFailed(ILogger logger, CustomerKey cacheKey, string cause);

    [LoggerMessage(EventId = 2228, Level = LogLevel.Error,
        Message = "Redis at {Endpoint} refused the credentials (REDIS_USERNAME / REDIS_PASSWORD): {Cause}; continuing without it and retrying in the background")]
    public static partial void CredentialsRefusedAtStart(ILogger logger, string endpoint, string cause);
}
