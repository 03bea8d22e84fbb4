using Sidecar.Cache.Internal;

namespace Sidecar.Cache.Tests.Internal;

public sealed class SingleFlightTests
{
    [Fact]
    public async Task RunAsync_ThousandConcurrentCallers_RunTheWorkOnce()
    {
        var flight = new SingleFlight<string, int>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;

        var joined = 0;
        var allJoined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var callers = Enumerable.Range(0, 1000)
            .Select(_ => Task.Run(async () =>
            {
                var shared = flight.RunAsync("acme", async (_, _) =>
                {
                    Interlocked.Increment(ref runs);
                    await gate.Task;
                    return 42;
                }, CancellationToken.None);
                if (Interlocked.Increment(ref joined) == 1000)
                {
                    allJoined.SetResult();
                }

                return await shared;
            }))
            .ToArray();

        await allJoined.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, flight.InFlight);
        gate.SetResult();
        var results = await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.All(results, r => Assert.Equal(42, r));
        Assert.Equal(1, Volatile.Read(ref runs));
        Assert.Equal(0, flight.InFlight);
    }

    [Fact]
    public async Task RunAsync_CallerCancels_OnlyThatCallerStopsWaiting()
    {
        var flight = new SingleFlight<string, string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workToken = new TaskCompletionSource<CancellationToken>();
        using var impatient = new CancellationTokenSource();

        Task<string> Work(string key, CancellationToken ct)
        {
            workToken.TrySetResult(ct);
            return gate.Task.ContinueWith(_ => key + "!", TaskScheduler.Default);
        }

        var first = flight.RunAsync("k", Work, impatient.Token);
        var second = flight.RunAsync("k", Work, CancellationToken.None);
        await impatient.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(second.IsCompleted);
        Assert.False((await workToken.Task.WaitAsync(TimeSpan.FromSeconds(10))).IsCancellationRequested);
        Assert.Equal(1, flight.InFlight);

        gate.SetResult();
        Assert.Equal("k!", await second.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, flight.InFlight);
    }

    [Fact]
    public async Task RunAsync_WorkFails_AllWaitersSeeTheFailureAndTheNextCallRunsAgain()
    {
        var flight = new SingleFlight<string, int>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;

        async Task<int> Failing(string key, CancellationToken ct)
        {
            Interlocked.Increment(ref runs);
            await gate.Task;
            throw new InvalidOperationException("down");
        }

        var waiters = Enumerable.Range(0, 10).Select(_ => flight.RunAsync("k", Failing, CancellationToken.None)).ToArray();
        gate.SetResult();
        foreach (var waiter in waiters)
        {
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => waiter).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("down", ex.Message);
        }

        Assert.Equal(1, runs);
        Assert.Equal(0, flight.InFlight);

        var again = await flight.RunAsync("k", (_, _) => Task.FromResult(7), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(7, again);
    }

    [Fact]
    public async Task RunAsync_WorkThrowsSynchronously_FaultsTheTaskAndClearsTheKey()
    {
        var flight = new SingleFlight<string, int>();

        var task = flight.RunAsync("k", (_, _) => throw new InvalidOperationException("sync"), CancellationToken.None);

        await Assert.ThrowsAsync<InvalidOperationException>(() => task).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, flight.InFlight);
    }

    [Fact]
    public async Task RunAsync_DifferentKeys_RunIndependently()
    {
        var flight = new SingleFlight<string, string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;

        async Task<string> Work(string key, CancellationToken ct)
        {
            Interlocked.Increment(ref runs);
            await gate.Task;
            return key;
        }

        var a = flight.RunAsync("a", Work, CancellationToken.None);
        var b = flight.RunAsync("b", Work, CancellationToken.None);
        Assert.Equal(2, flight.InFlight);
        gate.SetResult();

        Assert.Equal(["a", "b"], await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, runs);
    }

    [Fact]
    public async Task RunAsync_WorkTokenCancelled_CancelsTheSharedTask()
    {
        using var shutdown = new CancellationTokenSource();
        var flight = new SingleFlight<string, int>(workToken: shutdown.Token);

        var task = flight.RunAsync("k", async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return 1;
        }, CancellationToken.None);
        await shutdown.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, flight.InFlight);
    }
}
