using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sidecar.Host.Diagnostics;

namespace Sidecar.Host.Tests;

public sealed class LoggingTests
{
    private static readonly Action<ILogger, int, int, Exception?> Line =
        LoggerMessage.Define<int, int>(LogLevel.Information, new EventId(1), "line {Thread} {Index}");

    [Fact]
    public void JsonLine_UsesConfiguredKeys_AndMasksSecrets()
    {
        using var output = new MemoryStream();
        var provider = new JsonLineLoggerProvider(output, LogLevel.Information, "message", "error", ["sk-live-123"], TimeProvider.System);
        var logger = provider.CreateLogger("Test");

        logger.LogWarning(new InvalidOperationException("boom with sk-live-123"), "calling with key {Key}", "sk-live-123");
        provider.Dispose(); // writes out the queue

        var line = System.Text.Encoding.UTF8.GetString(output.ToArray()).TrimEnd('\n');
        Assert.DoesNotContain("sk-live-123", line, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(line);
        Assert.Equal("warn", json.RootElement.GetProperty("level").GetString());
        Assert.Equal("calling with key [redacted]", json.RootElement.GetProperty("message").GetString());
        Assert.Contains("boom with [redacted]", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("[redacted]", json.RootElement.GetProperty("Key").GetString());
    }

    [Fact]
    public void JsonLine_BelowMinimumLevel_NotWritten()
    {
        using var output = new MemoryStream();
        var provider = new JsonLineLoggerProvider(output, LogLevel.Warning, "msg", "err", [], TimeProvider.System);

        provider.CreateLogger("Test").LogInformation("quiet");
        provider.Dispose();

        Assert.Equal(0, output.Length);
    }

    [Fact]
    public void JsonLine_ShortSecret_DoesNotGarbleWords()
    {
        using var output = new MemoryStream();
        var provider = new JsonLineLoggerProvider(output, LogLevel.Information, "msg", "err", ["k"], TimeProvider.System);

        provider.CreateLogger("Test").LogInformation("checkpoint taken");
        provider.Dispose();

        Assert.Contains("checkpoint taken", System.Text.Encoding.UTF8.GetString(output.ToArray()), StringComparison.Ordinal);
    }

    [Fact]
    public void JsonLine_ManyThreads_EveryLineWholeAndInOrderPerThread()
    {
        using var output = new MemoryStream();
        var provider = new JsonLineLoggerProvider(output, LogLevel.Information, "msg", "err", [], TimeProvider.System);
        var logger = provider.CreateLogger("Test");

        Parallel.For(0, 4, thread =>
        {
            for (var i = 0; i < 2000; i++)
            {
                Line(logger, thread, i, null);
            }
        });
        provider.Dispose();

        var lines = System.Text.Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(8000, lines.Length);
        var next = new int[4];
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var thread = json.RootElement.GetProperty("Thread").GetInt32();
            Assert.Equal(next[thread]++, json.RootElement.GetProperty("Index").GetInt32());
        }
    }
}
