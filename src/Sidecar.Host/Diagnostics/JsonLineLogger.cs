using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Sidecar.Host.Diagnostics;

/// <summary>
/// One JSON object per log line on stdout, with the message and error under the keys LOG_MESSAGE_KEY and
/// LOG_ERROR_KEY (as the Stigg Sidecar does). Known secret values are masked in every line as a last line of defence:
/// no code path logs them on purpose. Values shorter than <see cref="MinimumSecretLength"/> are not masked: masking a
/// one-letter "key" would garble every word that contains that letter.
/// </summary>
internal sealed class JsonLineLoggerProvider(
    Stream output,
    LogLevel minimum,
    string messageKey,
    string errorKey,
    IReadOnlyList<string> secrets,
    TimeProvider time) : ILoggerProvider
{
    public const int MinimumSecretLength = 6;

    private readonly string[] _secrets = [.. secrets.Where(s => s.Length >= MinimumSecretLength)];
    private readonly Lock _writeLock = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    public ILogger CreateLogger(string categoryName) => new JsonLineLogger(this, categoryName);

    public void Dispose() => output.Flush();

    private void Write<TState>(string category, LogLevel level, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var message = Redact(formatter(state, exception));
        lock (_writeLock)
        {
            _buffer.ResetWrittenCount();
            using (var json = new Utf8JsonWriter(_buffer))
            {
                json.WriteStartObject();
                json.WriteString("level", LevelName(level));
                json.WriteString("time", time.GetUtcNow().UtcDateTime.ToString("O"));
                json.WriteString("logger", category);
                if (eventId.Id != 0)
                {
                    json.WriteNumber("event", eventId.Id);
                }

                json.WriteString(messageKey, message);
                if (exception is not null)
                {
                    json.WriteString(errorKey, Redact(exception.GetType().Name + ": " + exception.Message));
                }

                if (state is IReadOnlyList<KeyValuePair<string, object?>> fields)
                {
                    foreach (var (key, value) in fields)
                    {
                        if (key == "{OriginalFormat}" || key == messageKey || key == errorKey || key is "level" or "time" or "logger" or "event")
                        {
                            continue;
                        }

                        WriteField(json, key, value);
                    }
                }

                json.WriteEndObject();
            }

            _buffer.Write("\n"u8);
            output.Write(_buffer.WrittenSpan);
            output.Flush();
        }
    }

    private void WriteField(Utf8JsonWriter json, string key, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNull(key);
                break;
            case bool b:
                json.WriteBoolean(key, b);
                break;
            case int i:
                json.WriteNumber(key, i);
                break;
            case long l:
                json.WriteNumber(key, l);
                break;
            case double d when double.IsFinite(d):
                json.WriteNumber(key, d);
                break;
            default:
                json.WriteString(key, Redact(value.ToString() ?? string.Empty));
                break;
        }
    }

    private string Redact(string text)
    {
        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, "[redacted]", StringComparison.Ordinal);
            }
        }

        return text;
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        _ => "fatal",
    };

    private sealed class JsonLineLogger(JsonLineLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider.Minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(category, logLevel, eventId, state, exception, formatter);
            }
        }
    }

    private LogLevel Minimum => minimum;
}
