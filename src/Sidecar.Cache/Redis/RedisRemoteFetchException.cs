namespace Sidecar.Cache.Redis;

/// <summary>
/// Another sidecar held the refetch lock and reported that its fetch failed (Stigg's
/// "A remote execution encountered error: …"). The caller treats it like a failed fetch: serve the fallback.
/// </summary>
public sealed class RedisRemoteFetchException : Exception
{
    public RedisRemoteFetchException()
    {
    }

    public RedisRemoteFetchException(string message)
        : base(message)
    {
    }

    public RedisRemoteFetchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
