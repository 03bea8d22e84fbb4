using System.Text.Json;
using Sidecar.Core.Json;

namespace Sidecar.Upstream.Outbox.Internal;

/// <summary>
/// <c>dead-letter.jsonl</c> under the outbox directory: one JSON object a line for every entry Stigg rejected for good
/// or that was damaged, so an operator can inspect and replay it. Written with <see cref="Utf8JsonWriter"/> and
/// flushed to the device before the entry leaves the log. Rotated to <c>dead-letter.1.jsonl</c> past a size.
/// </summary>
internal sealed class DeadLetterFile(string? directory, long maxBytes)
{
    public const string FileName = "dead-letter.jsonl";

    private readonly Lock _gate = new();

    /// <summary>The file, or a description when there is none (in-memory outbox).</summary>
    public string Location => directory is null ? "(log only: in-memory outbox)" : Path.Combine(directory, FileName);

    public void WriteRejected(OutboxEntry entry, string reason, long nowMs) => Write(w =>
    {
        w.WriteString("setAsideAt", Instants.ToIso(nowMs));
        w.WriteString("reason", reason);
        w.WriteString("kind", entry.Kind == OutboxEntryKind.Usage ? "usage" : "event");
        w.WriteString("acceptedAt", Instants.ToIso(entry.AcceptedAt));
        w.WriteString("idempotencyKey", entry.IdempotencyKey);
        w.WriteString("customerId", entry.CustomerId);
        if (entry.Usage is { } u)
        {
            if (u.ResourceId is not null)
            {
                w.WriteString("resourceId", u.ResourceId);
            }

            w.WriteString("featureId", u.FeatureId);
            w.WriteNumber("value", u.Value);
            w.WriteString("updateBehavior", u.UpdateBehavior == Core.Model.UsageUpdateBehavior.Set ? "SET" : "DELTA");
            if (u.CreatedAt is { } createdAt)
            {
                w.WriteString("createdAt", Instants.ToIso(createdAt));
            }

            WriteDimensions(w, u.Dimensions);
        }
        else if (entry.Event is { } e)
        {
            w.WriteString("eventName", e.EventName);
            if (e.ResourceId is not null)
            {
                w.WriteString("resourceId", e.ResourceId);
            }

            if (e.Timestamp is { } ts)
            {
                w.WriteString("timestamp", Instants.ToIso(ts));
            }

            WriteDimensions(w, e.Dimensions);
        }
    });

    public void WriteDamaged(long address, long length, byte[]? bytes, string reason, long nowMs) => Write(w =>
    {
        w.WriteString("setAsideAt", Instants.ToIso(nowMs));
        w.WriteString("reason", reason);
        w.WriteString("kind", "damaged");
        w.WriteNumber("address", address);
        w.WriteNumber("length", length);
        if (bytes is not null)
        {
            w.WriteBase64String("bytes", bytes);
        }
    });

    private static void WriteDimensions(Utf8JsonWriter w, IReadOnlyDictionary<string, object?>? dimensions)
    {
        if (dimensions is null)
        {
            return;
        }

        w.WriteStartObject("dimensions");
        foreach (var (name, value) in dimensions)
        {
            switch (value)
            {
                case string s: w.WriteString(name, s); break;
                case bool b: w.WriteBoolean(name, b); break;
                case double d: w.WriteNumber(name, d); break;
                case float f: w.WriteNumber(name, f); break;
                case long l: w.WriteNumber(name, l); break;
                case int i: w.WriteNumber(name, i); break;
                case decimal m: w.WriteNumber(name, m); break;
                default: w.WriteNull(name); break;
            }
        }

        w.WriteEndObject();
    }

    private void Write(Action<Utf8JsonWriter> body)
    {
        if (directory is null)
        {
            return;
        }

        lock (_gate)
        {
            var path = Path.Combine(directory, FileName);
            var info = new FileInfo(path);
            if (info.Exists && info.Length >= maxBytes)
            {
                File.Move(path, Path.Combine(directory, "dead-letter.1.jsonl"), overwrite: true);
            }

            using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
            using (var w = new Utf8JsonWriter(stream))
            {
                w.WriteStartObject();
                body(w);
                w.WriteEndObject();
            }

            stream.WriteByte((byte)'\n');
            stream.Flush(flushToDisk: true);
        }
    }
}
