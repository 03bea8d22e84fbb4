using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sidecar.Cache;
using Sidecar.Host.Diagnostics;
using Sidecar.Upstream;

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

    /// <summary>Warnings that report no failure, so carry no cause: a configuration notice, and a cleanup notice.</summary>
    private static readonly HashSet<int> NoticesNotFailures =
    [
        13,   // PORT set: the legacy TLS listener is not started
        2102, // FASTER deleted log segments no checkpoint covers (left by a run stopped before its first checkpoint)
    ];

    /// <summary>Every warn/error message of the sidecar's own projects (Host, Cache with its tiers, Upstream).</summary>
    public static TheoryData<string> FailureMessages()
    {
        var data = new TheoryData<string>();
        foreach (var (method, attribute) in LoggerMessages())
        {
            if (attribute.Level >= LogLevel.Warning && !NoticesNotFailures.Contains(attribute.EventId))
            {
                data.Add($"{method.DeclaringType!.FullName}.{method.Name}");
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FailureMessages))]
    public void FailureLine_CarriesItsCauseUnderTheErrorKey(string message)
    {
        var method = LoggerMessages().Single(m => $"{m.Method.DeclaringType!.FullName}.{m.Method.Name}" == message).Method;
        using var output = new MemoryStream();
        var provider = new JsonLineLoggerProvider(output, LogLevel.Debug, "msg", "failure", [], TimeProvider.System);

        method.Invoke(null, [.. method.GetParameters().Select(p => SampleArgument(p, provider.CreateLogger("Test")))]);
        provider.Dispose();

        using var json = JsonDocument.Parse(System.Text.Encoding.UTF8.GetString(output.ToArray()));
        Assert.True(json.RootElement.TryGetProperty("failure", out var cause), $"{message} wrote no cause: {json.RootElement}");
        Assert.Contains("the cause", cause.GetString(), StringComparison.Ordinal);
        Assert.False(json.RootElement.TryGetProperty(JsonLineLoggerProvider.CauseField, out _), "the cause is written once, under the error key");
    }

    [Fact]
    public void JsonLine_CauseArgument_UnderErrorKeyAndRedacted()
    {
        using var output = new MemoryStream();
        var provider = new JsonLineLoggerProvider(output, LogLevel.Information, "msg", "err", ["sk-live-123"], TimeProvider.System);

        provider.CreateLogger("Test").LogWarning("Usage report failed: {Cause}", "401 for key sk-live-123");
        provider.Dispose();

        using var json = JsonDocument.Parse(System.Text.Encoding.UTF8.GetString(output.ToArray()));
        Assert.Equal("401 for key [redacted]", json.RootElement.GetProperty("err").GetString());
        Assert.Equal("Usage report failed: 401 for key [redacted]", json.RootElement.GetProperty("msg").GetString());
    }

    [Fact]
    public void JsonLine_ExceptionAndCause_ExceptionUnderErrorKeyCauseKept()
    {
        using var output = new MemoryStream();
        var provider = new JsonLineLoggerProvider(output, LogLevel.Information, "msg", "err", [], TimeProvider.System);

        provider.CreateLogger("Test").LogError(new TimeoutException("no answer"), "Delivery failed: {Cause}", "Stigg timed out");
        provider.Dispose();

        using var json = JsonDocument.Parse(System.Text.Encoding.UTF8.GetString(output.ToArray()));
        Assert.Equal("TimeoutException: no answer", json.RootElement.GetProperty("err").GetString());
        Assert.Equal("Stigg timed out", json.RootElement.GetProperty("Cause").GetString());
    }

    private static IEnumerable<(MethodInfo Method, LoggerMessageAttribute Attribute)> LoggerMessages() =>
        new[] { typeof(SidecarApp).Assembly, typeof(TieredEntitlementCache).Assembly, typeof(StiggApiClient).Assembly }
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()!))
            .Where(m => m.Attribute is not null);

    /// <summary>An argument for a log method: the cause (as an exception or a string) says "the cause", the rest are neutral.</summary>
    private static object? SampleArgument(ParameterInfo parameter, ILogger logger) => parameter switch
    {
        _ when parameter.ParameterType == typeof(ILogger) => logger,
        _ when parameter.ParameterType == typeof(Exception) => new InvalidOperationException("the cause"),
        { Name: "cause" } => "the cause",
        _ when parameter.ParameterType == typeof(string) => "x",
        _ when parameter.ParameterType.IsValueType => Activator.CreateInstance(parameter.ParameterType),
        _ => null,
    };
}
