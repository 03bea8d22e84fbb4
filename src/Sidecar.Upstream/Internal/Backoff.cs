namespace Sidecar.Upstream.Internal;

/// <summary>Back-off with jitter for WebSocket reconnects (request retries are Polly pipelines: <see cref="StiggResilience"/>).</summary>
internal static class Backoff
{
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
