using Microsoft.Extensions.Logging;

namespace Sidecar.Upstream.Outbox.Internal;

/// <summary>The usage outbox's log lines (event ids 1200–1299); a failure line takes the exception or a <c>{Cause}</c>.</summary>
internal static partial class OutboxLogMessages
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Usage outbox opened in {Directory}: {Depth} undelivered entries ({Bytes} bytes) recovered")]
    public static partial void Opened(ILogger logger, string directory, long depth, long bytes);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Usage outbox in memory (no persistence): undelivered usage is lost if the process stops")]
    public static partial void OpenedInMemory(ILogger logger);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Error, Message = "Usage outbox log in {Directory} could not be opened; it was moved to {Quarantine} and the outbox starts empty")]
    public static partial void OpenFailed(ILogger logger, Exception exception, string directory, string quarantine);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Usage outbox found {Count} damaged region(s) in its log ({Cause}); they will be set aside, not delivered")]
    public static partial void DamageFound(ILogger logger, int count, string cause);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "Usage outbox: Stigg is unreachable, {Depth} entries wait; retrying in {DelayMs} ms: {Cause}")]
    public static partial void DeliveryFailing(ILogger logger, long depth, long delayMs, string cause);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Debug, Message = "Usage outbox delivery failed again ({Failures} in a row); retrying in {DelayMs} ms: {Reason}")]
    public static partial void DeliveryFailingAgain(ILogger logger, int failures, long delayMs, string reason);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Information, Message = "Usage outbox delivers again after {Failures} failed attempts")]
    public static partial void DeliveryResumed(ILogger logger, int failures);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Error, Message = "Usage outbox set aside {Kind} {IdempotencyKey} for customer {CustomerId}: Stigg rejected it for good ({Cause}); kept in {DeadLetter}")]
    public static partial void Rejected(ILogger logger, string kind, string idempotencyKey, string customerId, string cause, string deadLetter);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Error, Message = "Usage outbox set aside a damaged entry at address {Address} ({Bytes} bytes): {Cause}; kept in {DeadLetter}")]
    public static partial void Quarantined(ILogger logger, long address, long bytes, string cause, string deadLetter);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Error, Message = "Usage outbox: the delivered-usage callback failed; delivery goes on")]
    public static partial void CallbackFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Error, Message = "Usage outbox could not write its dead-letter file {Path}; the entry is set aside in the log line only")]
    public static partial void DeadLetterWriteFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Debug, Message = "Usage outbox delivered {Count} {Kind} entries; {Depth} left")]
    public static partial void Delivered(ILogger logger, int count, string kind, long depth);

    [LoggerMessage(EventId = 1212, Level = LogLevel.Information, Message = "Usage outbox: Stigg rejected a batch of {Count}; resending its entries one at a time to find the one it refuses")]
    public static partial void Isolating(ILogger logger, int count);

    [LoggerMessage(EventId = 1213, Level = LogLevel.Debug, Message = "Usage outbox accepted {Count} {Kind} entries: {Reason}")]
    public static partial void AcceptedDuringOutage(ILogger logger, int count, string kind, string reason);

    [LoggerMessage(EventId = 1214, Level = LogLevel.Error, Message = "Usage outbox found {Pages} page(s) of its log with {Cause}; the rest of each such page was set aside (zeroed) so the log can be read")]
    public static partial void LengthHeadersRepaired(ILogger logger, int pages, string cause);
}
