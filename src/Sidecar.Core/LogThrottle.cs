namespace Sidecar.Core;

/// <summary>
/// Lets one log line through per interval and counts the rest, so a Redis outage under load writes a line every few
/// seconds instead of one per request (and a Stigg outage likewise).
/// </summary>
public sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    private long _nextAllowedMs;
    private int _suppressed;

    /// <summary>True when the caller should log now; <paramref name="suppressed"/> is how many were skipped since.</summary>
    public bool TryEnter(out int suppressed)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var next = Volatile.Read(ref _nextAllowedMs);
        if (now < next || Interlocked.CompareExchange(ref _nextAllowedMs, now + (long)interval.TotalMilliseconds, next) != next)
        {
            Interlocked.Increment(ref _suppressed);
            suppressed = 0;
            return false;
        }

        suppressed = Interlocked.Exchange(ref _suppressed, 0);
        return true;
    }
}
