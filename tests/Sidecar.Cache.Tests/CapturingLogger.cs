using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Tests;

public sealed record LogEntry(LogLevel Level, EventId EventId, string Message);

/// <summary>Records every log line (all levels) and lets a test wait for a specific one: a real signal.</summary>
public sealed class CapturingLogger : ILogger
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private readonly List<(Func<LogEntry, bool> Match, TaskCompletionSource<LogEntry> Done)> _waiters = [];

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var entry = new LogEntry(logLevel, eventId, formatter(state, exception));
        _entries.Enqueue(entry);
        lock (_waiters)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(entry))
                {
                    _waiters[i].Done.TrySetResult(entry);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Completes when a matching line is (or was already) logged; fails after <paramref name="timeout"/>.</summary>
    public Task<LogEntry> WaitForAsync(Func<LogEntry, bool> match, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            var existing = _entries.FirstOrDefault(match);
            if (existing is not null)
            {
                return Task.FromResult(existing);
            }

            _waiters.Add((match, done));
        }

        return done.Task.WaitAsync(timeout);
    }

    public Task<LogEntry> WaitForEventAsync(int eventId, TimeSpan timeout) => WaitForAsync(e => e.EventId.Id == eventId, timeout);

    public bool Has(int eventId) => _entries.Any(e => e.EventId.Id == eventId);

    public IEnumerable<string> Warnings => _entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message);

    /// <summary>Fails the test on any warning or error it did not expect.</summary>
    public void AssertNoWarningsOrErrors()
    {
        var bad = _entries.Where(e => e.Level >= LogLevel.Warning).ToList();
        Assert.True(bad.Count == 0, "Unexpected log lines:\n" + string.Join('\n', bad.Select(e => $"{e.Level} {e.EventId.Id}: {e.Message}")));
    }
}
