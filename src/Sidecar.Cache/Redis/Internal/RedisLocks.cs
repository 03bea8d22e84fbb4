using System.Security.Cryptography;
using StackExchange.Redis;

namespace Sidecar.Cache.Redis.Internal;

/// <summary>
/// Single-instance locks compatible with redlock, which Stigg's SDK uses on the same keys: the value is a random
/// token, taken with <c>SET key token NX PX ttl</c>, extended and released only by the holder of the token (Lua).
/// </summary>
internal static class RedisLocks
{
    /// <summary>Lock time of both Stigg locks (setCustomer and the distributed refetch).</summary>
    public static readonly TimeSpan Duration = TimeSpan.FromSeconds(5);

    private const string ReleaseScript =
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

    private const string ExtendScript =
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

    /// <summary>A fresh lock value (redlock uses 16 random bytes as hex too).</summary>
    public static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>One attempt; true when this token now holds the lock.</summary>
    public static Task<bool> TryTakeAsync(IDatabaseAsync db, RedisKey key, string token) =>
        db.StringSetAsync(key, token, Duration, When.NotExists);

    /// <summary>Pushes the expiry out again; false when the lock expired or someone else holds it now.</summary>
    public static async Task<bool> TryExtendAsync(IDatabaseAsync db, RedisKey key, string token)
    {
        var result = await db.ScriptEvaluateAsync(ExtendScript, [key], [token, (long)Duration.TotalMilliseconds]).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>Deletes the lock if this token still holds it (never someone else's lock after an expiry).</summary>
    public static async Task<bool> ReleaseAsync(IDatabaseAsync db, RedisKey key, string token)
    {
        var result = await db.ScriptEvaluateAsync(ReleaseScript, [key], [token]).ConfigureAwait(false);
        return (long)result == 1;
    }
}
