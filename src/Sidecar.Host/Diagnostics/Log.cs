using Microsoft.Extensions.Logging;

namespace Sidecar.Host.Diagnostics;

/// <summary>
/// Every log line the host writes, source-generated (no boxing, no reflection); event ids 1–99. A warn/error line about a
/// failure takes the exception, or its cause as the <c>{Cause}</c> argument: the JSON logger writes either under LOG_ERROR_KEY.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Sidecar listening: gRPC on {GrpcEndpoint}, health and metrics on port {MetricsPort}, source {Mode}")]
    public static partial void Listening(ILogger logger, string grpcEndpoint, int metricsPort, string mode);

    [LoggerMessage(4, LogLevel.Warning, "Entitlements file {Path} could not be read, keeping the previous contents: {Cause}")]
    public static partial void EntitlementsFileInvalid(ILogger logger, string path, string cause);

    [LoggerMessage(5, LogLevel.Information, "Entitlements file reloaded: {Customers} entries, {Changed} changed, {Removed} removed")]
    public static partial void EntitlementsFileReloaded(ILogger logger, int customers, int changed, int removed);

    [LoggerMessage(6, LogLevel.Information, "Ready: {Customers} customers loaded in {ElapsedMs} ms")]
    public static partial void Ready(ILogger logger, int customers, long elapsedMs);

    [LoggerMessage(7, LogLevel.Error, "Stigg rejected the API key; serving from cache and fallback values only")]
    public static partial void ApiKeyInvalid(ILogger logger, Exception exception);

    [LoggerMessage(8, LogLevel.Warning, "Stigg is unreachable at start-up, serving from cache and fallback values until it answers: {Cause}")]
    public static partial void UpstreamUnreachableAtStart(ILogger logger, string cause);

    [LoggerMessage(9, LogLevel.Warning, "Usage report failed: {Cause} ({Suppressed} more failures since the last line)")]
    public static partial void UsageReportFailed(ILogger logger, string cause, int suppressed);

    [LoggerMessage(10, LogLevel.Information, "Shutting down: draining requests")]
    public static partial void ShuttingDown(ILogger logger);

    [LoggerMessage(11, LogLevel.Information, "Real-time events: {State}")]
    public static partial void EventStreamState(ILogger logger, string state);

    [LoggerMessage(12, LogLevel.Information, "Package published to all customers: revalidating {Customers} cached customers")]
    public static partial void PackagePublished(ILogger logger, int customers);

    [LoggerMessage(13, LogLevel.Warning, "PORT (legacy TLS) is set but no TLS certificate is configured; the legacy TLS listener is not started")]
    public static partial void LegacyTlsNotServed(ILogger logger);

    [LoggerMessage(15, LogLevel.Warning, "CACHE_DIR is on a read-only filesystem: the usage outbox is kept in memory (usage accepted during a Stigg outage is lost if the process stops): {Cause}")]
    public static partial void OutboxInMemory(ILogger logger, string cause);

    [LoggerMessage(14, LogLevel.Error, "{Method} failed inside the sidecar; the caller was answered INTERNAL")]
    public static partial void HandlerFailed(ILogger logger, string method, Exception exception);
}
