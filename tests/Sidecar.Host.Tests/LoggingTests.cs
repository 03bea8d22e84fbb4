using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sidecar.Host.Diagnostics;

namespace Sidecar.Host.Tests;

public sealed class LoggingTests
{
    [Fact]
    public void JsonLine_UsesConfiguredKeys_AndMasksSecrets()
    {
        using var output = new MemoryStream();
        using var provider = new JsonLineLoggerProvider(output, LogLevel.Information, "message", "error", ["sk-live-123"], TimeProvider.System);
        var logger = provider.CreateLogger("Test");

        logger.LogWarning(new InvalidOperationException("boom with sk-live-123"), "calling with key {Key}", "sk-live-123");

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
        using var provider = new JsonLineLoggerProvider(output, LogLevel.Warning, "msg", "err", [], TimeProvider.System);

        provider.CreateLogger("Test").LogInformation("quiet");

        Assert.Equal(0, output.Length);
    }

    [Fact]
    public void JsonLine_ShortSecret_DoesNotGarbleWords()
    {
        using var output = new MemoryStream();
        using var provider = new JsonLineLoggerProvider(output, LogLevel.Information, "msg", "err", ["k"], TimeProvider.System);

        provider.CreateLogger("Test").LogInformation("checkpoint taken");

        Assert.Contains("checkpoint taken", System.Text.Encoding.UTF8.GetString(output.ToArray()), StringComparison.Ordinal);
    }
}
