using System.Buffers;
using System.Text.Json;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sidecar.Host.Diagnostics;

/// <summary>
/// One JSON object per log line on stdout, with the message and error under the keys LOG_MESSAGE_KEY and
/// LOG_ERROR_KEY (as the Stigg Sidecar does). Known secret values are masked in every line as a last line of defence:
/// no code path logs them on purpose. Values shorter than <see cref="MinimumSecretLength"/> are not masked: masking a
/// one-letter "key" would garble every word that contains that letter.
/// </summary>
/// <remarks>
/// The error key carries the cause of a failure: the exception logged with the line (type and message), or else the
/// line's structured <c>{Cause}</c> argument (<see cref="CauseField"/>). Every warn/error message about a failure in
/// the sidecar's projects takes one of the two, so an operator filtering on LOG_ERROR_KEY sees every failure and why.
/// </remarks>
/// <remarks>
/// A line is formatted on the logging thread and written by one dedicated writer thread behind a bounded queue, so a
/// request never waits on stdout (the console logger's design; its queue writes only to the process console, and the
/// tests and embedders give this provider a stream of their own). A full queue makes the logger wait, never drop a
/// line; the writer is a thread of its own, not a thread-pool task, so waiting loggers cannot starve it.
/// </remarks>
internal sealed class JsonLineLoggerProvider : ILoggerProvider
{
    public const int MinimumSecretLength = 6;

    /// <summary>The message argument whose value is written under LOG_ERROR_KEY when no exception is logged.</summary>
    public const string CauseField = "Cause";

    private const int QueueLength = 4096;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    private readonly Stream _output;
    private readonly LogLevel _minimum;
    private readonly string _messageKey;
    private readonly string _errorKey;
    private readonly string[] _secrets;
    private readonly TimeProvider _time;
    private readonly BlockingCollection<byte[]> _lines = new(QueueLength);
    private readonly Thread _writer;

    public JsonLineLoggerProvider(Stream output, LogLevel minimum, string messageKey, string errorKey, IReadOnlyList<string> secrets, TimeProvider time)
    {
        _output = output;
        _minimum = minimum;
        _messageKey = messageKey;
        _errorKey = errorKey;
        _secrets = [.. secrets.Where(s => s.Length >= MinimumSecretLength)];
        _time = time;
        _writer = new Thread(WriteLines) { IsBackground = true, Name = "sidecar-log-writer" };
        _writer.Start();
    }

    public ILogger CreateLogger(string categoryName) => new JsonLineLogger(this, categoryName);

    /// <summary>Writes what is queued, then stops (bounded: a stuck stdout must not hang shutdown).</summary>
    public void Dispose()
    {
        _lines.CompleteAdding();
        if (_writer.Join(TimeSpan.FromSeconds(2)))
        {
            _lines.Dispose();
        }
    }

    private void WriteLines()
    {
        foreach (var line in _lines.GetConsumingEnumerable())
        {
            _output.Write(line);
            if (_lines.Count == 0)
            {
                _output.Flush();
            }
        }

        _output.Flush();
    }

    private void Write<TState>(string category, LogLevel level, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var message = Redact(formatter(state, exception));
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var messageKey = _messageKey;
        var errorKey = _errorKey;
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("level", LevelName(level));
            json.WriteString("time", _time.GetUtcNow().UtcDateTime.ToString("O"));
            json.WriteString("logger", category);
            if (eventId.Id != 0)
            {
                json.WriteNumber("event", eventId.Id);
            }

            json.WriteString(messageKey, message);
            var fields = state as IReadOnlyList<KeyValuePair<string, object?>>;
            var causeInErrorKey = false;
            if (exception is not null)
            {
                json.WriteString(errorKey, Redact(exception.GetType().Name + ": " + exception.Message));
            }
            else if (fields is not null && Cause(fields) is { } cause)
            {
                json.WriteString(errorKey, Redact(cause));
                causeInErrorKey = true;
            }

            if (fields is not null)
            {
                foreach (var (key, value) in fields)
                {
                    if (key == "{OriginalFormat}" || key == messageKey || key == errorKey || key is "level" or "time" or "logger" or "event"
                        || (causeInErrorKey && key == CauseField))
                    {
                        continue;
                    }

                    WriteField(json, key, value);
                }
            }

            json.WriteEndObject();
        }

        buffer.Write("\n"u8);
        try
        {
            _lines.Add(buffer.WrittenSpan.ToArray());
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // Logged after the provider was disposed: there is no writer left to take it.
        }
    }

    private static string? Cause(IReadOnlyList<KeyValuePair<string, object?>> fields)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            if (fields[i].Key == CauseField)
            {
                return fields[i].Value?.ToString();
            }
        }

        return null;
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

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(category, logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
