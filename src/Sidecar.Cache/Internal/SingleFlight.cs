using System.Collections.Concurrent;

namespace Sidecar.Cache.Internal;

/// <summary>
/// Collapses concurrent calls for the same key into one: the first caller starts the work, later callers await the
/// same task until it completes (success or failure), after which the next call starts fresh work. This is the
/// per-process half of Stigg's miss handling (stigg-behaviour §4.1, §7.6): a thousand checks for a customer that
/// is not cached cost one Edge request.
/// </summary>
/// <remarks>
/// The work runs with the token given to the constructor (e.g. application shutdown), never with a caller's token:
/// one caller giving up must not fail the others. Bound the work itself (the API client has its own budget).
/// </remarks>
internal sealed class SingleFlight<TKey, TResult>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Task<TResult>> _inFlight;
    private readonly CancellationToken _workToken;

    public SingleFlight(IEqualityComparer<TKey>? comparer = null, CancellationToken workToken = default)
    {
        _inFlight = new ConcurrentDictionary<TKey, Task<TResult>>(comparer);
        _workToken = workToken;
    }

    /// <summary>Keys with work running now.</summary>
    public int InFlight => _inFlight.Count;

    /// <summary>
    /// Joins the work running for <paramref name="key"/>, or starts <paramref name="work"/> if there is none.
    /// Cancelling <paramref name="callerCt"/> abandons this caller's wait only.
    /// </summary>
    public Task<TResult> RunAsync(TKey key, Func<TKey, CancellationToken, Task<TResult>> work, CancellationToken callerCt)
    {
        ArgumentNullException.ThrowIfNull(work);
        Task<TResult> shared;
        while (true)
        {
            if (_inFlight.TryGetValue(key, out var existing))
            {
                shared = existing;
                break;
            }

            var completion = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_inFlight.TryAdd(key, completion.Task))
            {
                shared = completion.Task;
                _ = RunWorkAsync(key, work, completion);
                break;
            }

            // Another caller registered the key between our lookup and our add: join theirs.
        }

        return callerCt.CanBeCanceled && !shared.IsCompleted ? shared.WaitAsync(callerCt) : shared;
    }

    private async Task RunWorkAsync(TKey key, Func<TKey, CancellationToken, Task<TResult>> work, TaskCompletionSource<TResult> completion)
    {
        TResult result = default!;
        Exception? failure = null;
        var canceled = false;
        try
        {
            result = await work(key, _workToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_workToken.IsCancellationRequested)
        {
            canceled = true;
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        // Leave the map before completing, so whoever sees the result and calls again starts new work.
        _inFlight.TryRemove(new KeyValuePair<TKey, Task<TResult>>(key, completion.Task));
        if (canceled)
        {
            completion.TrySetCanceled(_workToken);
        }
        else if (failure is not null)
        {
            completion.TrySetException(failure);
        }
        else
        {
            completion.TrySetResult(result);
        }
    }
}
