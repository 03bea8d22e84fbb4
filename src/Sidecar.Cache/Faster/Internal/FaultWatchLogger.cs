using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Faster.Internal;

/// <summary>
/// The logger handed to FASTER. FASTER reports a failed page flush (disk full, directory gone, read-only) only by
/// logging it — the flushed-until address then stops for good and checkpoints wait forever — so the first error from
/// FASTER is the signal that this store can no longer persist. FASTER's message carries no cause (its error code is
/// usually -1), so the cause is found by writing a page-sized probe file next to the log, which fails the same way.
/// Everything else FASTER logs goes to the tier's log at Trace.
/// </summary>
internal sealed class FaultWatchLogger(ILogger inner, string logDirectory, Action<string> onFault) : ILogger
{
    private int _reported;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error || inner.IsEnabled(LogLevel.Trace);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var message = formatter(state, exception);
        if (logLevel < LogLevel.Error)
        {
            Faster.Log.FasterMessage(inner, message);
        }
        else if (Interlocked.Exchange(ref _reported, 1) == 0)
        {
            onFault($"{DiskProbe.WriteFails(logDirectory, 64 * 1024) ?? "the log device failed"} ({message}{(exception is null ? string.Empty : ": " + exception.Message)})");
        }
    }
}
