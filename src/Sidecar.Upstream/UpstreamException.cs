namespace Sidecar.Upstream;

/// <summary>Why a call to Stigg failed, in the terms the caller acts on.</summary>
public enum UpstreamFailure
{
    /// <summary>The API key was refused (HTTP 401/403, or GraphQL <c>Unauthenticated</c>). Retrying will not help.</summary>
    Unauthorized,

    /// <summary>Stigg could not be reached in time: network error, timeout, 429 or 5xx.</summary>
    Unavailable,

    /// <summary>Stigg answered, but not with what was asked: bad JSON, GraphQL <c>errors</c>, or another 4xx.</summary>
    InvalidResponse,
}

/// <summary>
/// A failed call to Stigg. The message is safe to log: it names the operation, the status and Stigg's own error
/// text, never the API key or request headers.
/// </summary>
public sealed class UpstreamException : Exception
{
    public UpstreamException(UpstreamFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    public UpstreamException()
        : this(UpstreamFailure.Unavailable, "Stigg request failed.")
    {
    }

    public UpstreamException(string message)
        : this(UpstreamFailure.Unavailable, message)
    {
    }

    public UpstreamException(string message, Exception innerException)
        : this(UpstreamFailure.Unavailable, message, innerException)
    {
    }

    public UpstreamFailure Failure { get; }

    /// <summary>The HTTP status of the last attempt, when there was a response.</summary>
    public int? StatusCode { get; init; }

    /// <summary>GraphQL <c>extensions.code</c> of the first error, when Stigg sent one.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>GraphQL <c>extensions.traceId</c>, for support tickets with Stigg.</summary>
    public string? TraceId { get; init; }

    /// <summary>How many attempts were made before giving up (0 when the circuit was open and nothing was sent).</summary>
    public int Attempts { get; internal set; } = 1;

    /// <summary>
    /// True when the call was not sent because the circuit breaker is open (Stigg is known to be down). Such failures
    /// repeat for every call during an outage: log them at debug, the breaker logs the outage itself.
    /// </summary>
    public bool IsCircuitOpen { get; init; }

    /// <summary>The server's <c>Retry-After</c>, when it sent one.</summary>
    internal TimeSpan? RetryAfter { get; init; }
}
