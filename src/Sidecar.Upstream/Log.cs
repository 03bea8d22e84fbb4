using Microsoft.Extensions.Logging;

namespace Sidecar.Upstream;

/// <summary>
/// Every log line of this project (source-generated). None of them ever carries the API key. A warn/error line about a
/// failure takes the exception, or its cause as the <c>{Cause}</c> argument (the host writes either under LOG_ERROR_KEY).
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "Retrying {Operation} (attempt {Attempt}) in {DelayMs} ms after: {Reason}")]
    public static partial void Retrying(ILogger logger, string operation, int attempt, long delayMs, string reason);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "{Operation} not retried: the next attempt (in {DelayMs} ms) would exceed the remaining budget of {RemainingMs} ms")]
    public static partial void RetryBeyondBudget(ILogger logger, string operation, long delayMs, long remainingMs);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Stigg circuit opened: calls to Stigg fail at once for {BreakMs} ms, then one probe is let through. Cause: {Cause}")]
    public static partial void CircuitOpened(ILogger logger, string cause, long breakMs);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Stigg circuit re-opened for {BreakMs} ms: the probe failed ({Reason})")]
    public static partial void CircuitReopened(ILogger logger, string reason, long breakMs);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Stigg circuit half-open: one probe call goes to Stigg")]
    public static partial void CircuitHalfOpen(ILogger logger);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Stigg circuit closed: Stigg answers again after {DownMs} ms ({FailedProbes} failed probes, {Rejected} calls failed fast meanwhile)")]
    public static partial void CircuitClosed(ILogger logger, long downMs, int failedProbes, long rejected);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "A Stigg circuit state handler failed")]
    public static partial void CircuitHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Event stream connecting to {Url}")]
    public static partial void StreamConnecting(ILogger logger, string url);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Event stream connected (reconnect: {IsReconnect})")]
    public static partial void StreamConnected(ILogger logger, bool isReconnect);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Event stream disconnected: {Cause}. Reconnecting in {DelayMs} ms")]
    public static partial void StreamDisconnected(ILogger logger, string cause, long delayMs);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "Event stream stopped for good: the API key was rejected ({Cause})")]
    public static partial void StreamInvalidApiKey(ILogger logger, string cause);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "Event stream handler for {Event} failed; the stream continues")]
    public static partial void StreamHandlerFailed(ILogger logger, Exception exception, string @event);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Error, Message = "Event stream subscription {Operation} failed: {Cause}")]
    public static partial void StreamSubscriptionError(ILogger logger, string operation, string cause);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "Event stream subscription {Operation} throttled: {Message}")]
    public static partial void StreamSubscriptionThrottled(ILogger logger, string operation, string message);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Event stream ignored an unusable {Operation} event: {Cause}")]
    public static partial void StreamEventIgnored(ILogger logger, string operation, string cause);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Debug, Message = "Event stream stopped")]
    public static partial void StreamStopped(ILogger logger);
}
