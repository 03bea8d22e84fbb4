using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sidecar.Emulator;

namespace Sidecar.Upstream.Tests;

internal static class TestSupport
{
    public const string ApiKey = "test-api-key-5f2c9a";

    /// <summary>How long a test waits for a signal before failing (not a timing assertion: a hang guard).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    public static string SamplePath { get; } = FindSample();

    public static Task<EmulatorServer> StartEmulatorAsync() =>
        EmulatorServer.StartAsync(new EmulatorOptions { ApiKey = ApiKey, FixturePath = SamplePath });

    /// <summary>Options aimed at the emulator, with budgets and back-off small enough for a quick suite.</summary>
    public static UpstreamOptions OptionsFor(EmulatorServer emulator, string? apiKey = null) => new()
    {
        ApiKey = apiKey ?? ApiKey,
        ApiUrl = emulator.BaseUrl,
        EdgeApiUrl = emulator.BaseUrl,
        WsUrl = emulator.WsUrl,
        EntitlementsTimeout = TimeSpan.FromSeconds(5),
        EntitlementsAttemptTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromSeconds(10),
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(100),
        WsPingInterval = TimeSpan.FromSeconds(5),
        WsReconnectMin = TimeSpan.FromMilliseconds(50),
        WsReconnectMax = TimeSpan.FromMilliseconds(300),
        WsConnectTimeout = TimeSpan.FromSeconds(5),
    };

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Patience);

    public static Task Within(this Task task) => task.WaitAsync(Patience);

    private static string FindSample()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "samples", "entitlements.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("samples/entitlements.json not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A log sink that keeps every formatted line (and exception text) for assertions.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        _lines.Enqueue($"{logLevel}: {formatter(state, exception)} {exception}");
    }

    public bool Contains(string text) => _lines.Any(l => l.Contains(text, StringComparison.Ordinal));
}

/// <summary>A clock stopped at one instant; timers and timestamps stay real (no test here waits on fake time).</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
