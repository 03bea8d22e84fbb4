using Microsoft.Extensions.Logging;

namespace Sidecar.Cache;

/// <summary>
/// Log lines of the read-through cache (event ids 2000–2099; FASTER has 2100–2199, Redis 2200–2299). A warn/error line
/// about a failure takes the exception, or its cause as the <c>{Cause}</c> argument (the host writes either under
/// LOG_ERROR_KEY).
/// </summary>
internal static partial class Log
{
    [LoggerMessage(2000, LogLevel.Warning, "Fetching entitlements for customer {CustomerId} (resource {ResourceId}) failed, answering from what is held or the fallback: {Cause} ({Suppressed} more failures since the last line)")]
    public static partial void FetchFailed(ILogger logger, string customerId, string? resourceId, string cause, int suppressed);

    [LoggerMessage(2001, LogLevel.Debug, "Revalidating customer {CustomerId} (resource {ResourceId}) failed, still serving the cached copy: {Reason}")]
    public static partial void RevalidationFailed(ILogger logger, string customerId, string? resourceId, string reason);

    [LoggerMessage(2002, LogLevel.Warning, "Writing customer {CustomerId} back to the {Tier} tier failed; the hot tier holds it: {Cause}")]
    public static partial void WriteBackFailed(ILogger logger, string tier, string customerId, string cause);

    [LoggerMessage(2003, LogLevel.Warning, "Shutdown: {Pending} write-back(s) still running were abandoned: {Cause}")]
    public static partial void WriteBacksAbandoned(ILogger logger, int pending, string cause);
}
