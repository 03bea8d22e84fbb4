using System.Diagnostics;

namespace Sidecar.Testing;

/// <summary>
/// The one poller of the test suites. Waits for a condition observed through a real call (an RPC, a counter, a log
/// line, a Redis key) to hold, re-asking every <see cref="Interval"/> until a deadline. It synchronises on the
/// observed state, never on elapsed time: the deadline (measured on the real clock, whatever fake clock a test
/// drives) only bounds a failure, and the failure names what was awaited and what was last seen.
/// </summary>
public static class Eventually
{
    /// <summary>The deadline when a test gives none: a hang guard, not a timing assertion.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Pause between two observations.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>Observes until <paramref name="condition"/> holds and returns the observation that satisfied it.</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> observe, Func<T, bool> condition, TimeSpan? timeout = null, string? what = null)
    {
        ArgumentNullException.ThrowIfNull(observe);
        ArgumentNullException.ThrowIfNull(condition);
        var limit = timeout ?? DefaultTimeout;
        var started = Stopwatch.StartNew();
        while (true)
        {
            var last = await observe().ConfigureAwait(false);
            if (condition(last))
            {
                return last;
            }

            if (started.Elapsed > limit)
            {
                throw new TimeoutException($"{what ?? "condition"} not met within {limit}; last observed: {last}");
            }

            await Task.Delay(Interval).ConfigureAwait(false);
        }
    }

    /// <summary>Observes a synchronous value (a counter, a property) until <paramref name="condition"/> holds.</summary>
    public static Task<T> ValueAsync<T>(Func<T> observe, Func<T, bool> condition, TimeSpan? timeout = null, string? what = null)
    {
        ArgumentNullException.ThrowIfNull(observe);
        return ValueAsync(() => Task.FromResult(observe()), condition, timeout, what);
    }

    /// <summary>Waits until <paramref name="condition"/> answers true.</summary>
    public static Task TrueAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, string? what = null) =>
        ValueAsync(condition, static ok => ok, timeout, what);

    /// <summary>Waits until <paramref name="condition"/> answers true.</summary>
    public static Task TrueAsync(Func<bool> condition, TimeSpan? timeout = null, string? what = null) =>
        ValueAsync(condition, static ok => ok, timeout, what);
}
