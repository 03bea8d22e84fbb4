namespace Sidecar.Tests.Shared;

/// <summary>
/// Waits for a condition observed through a real call (an RPC, an HTTP counter) to hold, re-asking until a
/// deadline. It synchronises on the observed state, not on elapsed time: the deadline only bounds a failure.
/// </summary>
internal static class Eventually
{
    public static async Task<T> ValueAsync<T>(Func<Task<T>> observe, Func<T, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        T last;
        while (true)
        {
            last = await observe();
            if (condition(last))
            {
                return last;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met within {timeout}; last observed: {last}");
            }

            await Task.Delay(20);
        }
    }
}
