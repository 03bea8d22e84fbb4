namespace Sidecar.Upstream.Internal;

/// <summary>Exponential back-off with jitter, for request retries and WebSocket reconnects.</summary>
internal static class Backoff
{
    /// <summary>
    /// Delay before retry <paramref name="retry"/> (1-based): <c>baseDelay × 2^(retry-1)</c> plus 0–20 % jitter (the
    /// axios-retry shape Stigg uses, with a smaller base), capped at <paramref name="max"/>.
    /// </summary>
    public static TimeSpan RetryDelay(int retry, TimeSpan baseDelay, TimeSpan max)
    {
        var exponential = baseDelay.TotalMilliseconds * Math.Pow(2, Math.Clamp(retry - 1, 0, 30));
        var withJitter = exponential * (1 + (0.2 * Random.Shared.NextDouble()));
        return TimeSpan.FromMilliseconds(Math.Min(withJitter, max.TotalMilliseconds));
    }

    /// <summary>
    /// Delay before reconnect attempt <paramref name="failures"/> (0-based): uniform in
    /// <c>[min, min(max, min × 2^(failures+1))]</c>. Full jitter spreads a fleet of sidecars that all lost the socket
    /// at the same moment, while never reconnecting sooner than <paramref name="min"/>.
    /// </summary>
    public static TimeSpan ReconnectDelay(int failures, TimeSpan min, TimeSpan max)
    {
        var lower = min.TotalMilliseconds;
        var cap = Math.Max(lower, Math.Min(max.TotalMilliseconds, lower * Math.Pow(2, Math.Clamp(failures + 1, 1, 30))));
        return TimeSpan.FromMilliseconds(lower + ((cap - lower) * Random.Shared.NextDouble()));
    }
}
