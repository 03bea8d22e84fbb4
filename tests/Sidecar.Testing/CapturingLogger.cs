using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sidecar.Testing;

/// <summary>One recorded log line.</summary>
public sealed record LogEntry(LogLevel Level, EventId EventId, string Message)
{
    /// <summary>The logger's category ("" for a logger used directly).</summary>
    public string Category { get; init; } = string.Empty;

    public Exception? Exception { get; init; }

    /// <summary>The message followed by the exception's text (type, message, stack), if any: what a log sink would write.</summary>
    public string FullText => Exception is null ? Message : Message + " " + Exception;

    public override string ToString() =>
        $"{Level} {(Category.Length == 0 ? string.Empty : Category + " ")}{EventId.Id}: {Message}{(Exception is null ? string.Empty : " " + Exception)}";
}

/// <summary>
/// Records every log line (all levels, every category it is asked for) and lets a test wait for a specific one: a
/// real signal, not a timing guess. Pass it where an <see cref="ILogger"/> is taken, or get it from a
/// <see cref="VerifyNoErrorsScope"/> (which also fails the test on unexpected errors).
/// </summary>
public sealed class CapturingLogger : ILogger
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private readonly List<(Func<LogEntry, bool> Match, TaskCompletionSource<LogEntry> Done)> _waiters = [];

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public IEnumerable<string> Warnings => _entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Record(string.Empty, logLevel, eventId, state, exception, formatter);

    /// <summary>A logger of the given category writing into this one's record.</summary>
    public ILogger ForCategory(string category) => new CategoryLogger(this, category);

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

    /// <summary>True when a line's message or exception text contains <paramref name="text"/> (ordinal).</summary>
    public bool Contains(string text) => _entries.Any(e => e.FullText.Contains(text, StringComparison.Ordinal));

    /// <summary>Fails the test on any warning or error it did not expect.</summary>
    public void AssertNoWarningsOrErrors() => AssertNone(LogLevel.Warning, expected: null);

    /// <summary>Fails the test on an Error or Critical line that <paramref name="expected"/> (when given) does not accept.</summary>
    public void AssertNoErrors(Func<LogEntry, bool>? expected = null) => AssertNone(LogLevel.Error, expected);

    private void AssertNone(LogLevel from, Func<LogEntry, bool>? expected)
    {
        var bad = _entries.Where(e => e.Level >= from && e.Level != LogLevel.None && !(expected?.Invoke(e) ?? false)).ToList();
        Assert.True(bad.Count == 0, "Unexpected log lines:\n" + string.Join('\n', bad));
    }

    private void Record<TState>(string category, LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var entry = new LogEntry(logLevel, eventId, formatter(state, exception)) { Category = category, Exception = exception };
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

    private sealed class CategoryLogger(CapturingLogger sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => sink.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Record(category, logLevel, eventId, state, exception, formatter);
    }
}

/// <summary>An <see cref="ILoggerProvider"/> whose loggers, of every category, record into one <see cref="CapturingLogger"/>.</summary>
public sealed class CapturingLoggerProvider(CapturingLogger sink) : ILoggerProvider
{
    public CapturingLoggerProvider()
        : this(new CapturingLogger())
    {
    }

    public CapturingLogger Sink { get; } = sink;

    public ILogger CreateLogger(string categoryName) => Sink.ForCategory(categoryName);

    public void Dispose()
    {
    }
}

/// <summary>
/// Fails a test on an unexpected Error or Critical log line (after grpc-dotnet's <c>VerifyNoErrorsScope</c>).
/// Create one per test, hand its <see cref="Logger"/> (or <see cref="LoggerFactory"/>) to the code under test,
/// declare the errors the test provokes with <see cref="ExpectErrors"/>, and dispose it when the test ends — from
/// the test class's <c>Dispose</c>/<c>DisposeAsync</c> or a <c>using</c> — which asserts. Lines below Error are
/// recorded but never fail the test; assert on them explicitly.
/// </summary>
public sealed class VerifyNoErrorsScope : IDisposable
{
    private readonly List<Func<LogEntry, bool>> _expected = [];
    private readonly ILoggerFactory _factory;
    private bool _disposed;

    public VerifyNoErrorsScope(Func<LogEntry, bool>? expectedErrors = null)
    {
        var provider = new CapturingLoggerProvider();
        Logger = provider.Sink;
        _factory = Microsoft.Extensions.Logging.LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(provider));
        if (expectedErrors is not null)
        {
            _expected.Add(expectedErrors);
        }
    }

    /// <summary>Every line logged through this scope.</summary>
    public CapturingLogger Logger { get; }

    /// <summary>A factory whose loggers record into <see cref="Logger"/>.</summary>
    public ILoggerFactory LoggerFactory => _factory;

    /// <summary>Accepts the Error/Critical lines that <paramref name="match"/> recognises (a test that provokes them).</summary>
    public void ExpectErrors(Func<LogEntry, bool> match)
    {
        lock (_expected)
        {
            _expected.Add(match);
        }
    }

    /// <summary>Asserts now (the scope stays usable).</summary>
    public void AssertNoUnexpectedErrors()
    {
        Func<LogEntry, bool>[] expected;
        lock (_expected)
        {
            expected = [.. _expected];
        }

        Logger.AssertNoErrors(e => expected.Any(match => match(e)));
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _factory.Dispose();
        AssertNoUnexpectedErrors();
    }
}
