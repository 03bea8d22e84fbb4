using System.Buffers;
using System.Text.Json;
using Sidecar.Core.Json;
using Sidecar.Core.Model;

namespace Sidecar.Upstream.Internal;

/// <summary>
/// Writes GraphQL request bodies (<c>{operationName, query, variables}</c>) with <see cref="Utf8JsonWriter"/>: the
/// variables include free-form dimension maps, which a source-generated serializer cannot type.
/// </summary>
internal static class GraphQlRequestWriter
{
    public static byte[] GetEntitlementsState(CustomerKey key) => Write(
        GraphQlDocuments.GetEntitlementsStateName,
        GraphQlDocuments.GetEntitlementsState,
        key,
        static (w, k) =>
        {
            w.WriteStartObject("query");
            w.WriteString("customerId", k.CustomerId);
            if (k.ResourceId is not null)
            {
                w.WriteString("resourceId", k.ResourceId);
            }

            w.WriteEndObject();
        });

    public static byte[] GetSdkConfiguration() => Write<object?>(
        GraphQlDocuments.GetSdkConfigurationName,
        GraphQlDocuments.GetSdkConfiguration,
        null,
        static (_, _) => { });

    public static byte[] ReportUsage(UsageReport report) => Write(
        GraphQlDocuments.ReportUsageName,
        GraphQlDocuments.ReportUsage,
        report,
        static (w, r) =>
        {
            w.WritePropertyName("input");
            WriteUsage(w, r);
        });

    public static byte[] ReportUsageBulk(IReadOnlyList<UsageReport> reports) => Write(
        GraphQlDocuments.ReportUsageBulkName,
        GraphQlDocuments.ReportUsageBulk,
        reports,
        static (w, list) =>
        {
            w.WriteStartObject("input");
            w.WriteStartArray("usages");
            foreach (var r in list)
            {
                WriteUsage(w, r);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });

    public static byte[] ReportEvent(IReadOnlyList<RawEvent> events) => Write(
        GraphQlDocuments.ReportEventName,
        GraphQlDocuments.ReportEvent,
        events,
        static (w, list) =>
        {
            w.WriteStartObject("events");
            w.WriteStartArray("usageEvents");
            foreach (var e in list)
            {
                w.WriteStartObject();
                w.WriteString("eventName", e.EventName);
                w.WriteString("customerId", e.CustomerId);
                w.WriteString("idempotencyKey", e.IdempotencyKey);
                if (e.ResourceId is not null)
                {
                    w.WriteString("resourceId", e.ResourceId);
                }

                if (e.Dimensions is not null)
                {
                    WriteDimensions(w, e.Dimensions);
                }

                if (e.Timestamp is { } ts)
                {
                    w.WriteString("timestamp", Instants.ToIso(ts));
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });

    /// <summary>The JSON of one subscription's <c>subscribe</c> frame (graphql-transport-ws).</summary>
    public static byte[] Subscribe(string id, string operationName, string query)
    {
        var buffer = new ArrayBufferWriter<byte>(query.Length + 128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("type", "subscribe");
            w.WriteStartObject("payload");
            w.WriteString("operationName", operationName);
            w.WriteString("query", query);
            w.WriteStartObject("variables");
            w.WriteEndObject();
            w.WriteStartObject("extensions");
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The <c>complete</c> frame that ends subscription <paramref name="id"/> from the client's side.</summary>
    public static byte[] Complete(string id)
    {
        var buffer = new ArrayBufferWriter<byte>(id.Length + 32);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("type", "complete");
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The <c>connection_init</c> frame: the SDK's headers travel in the payload (§3.1).</summary>
    public static byte[] ConnectionInit(IEnumerable<KeyValuePair<string, string>> headers)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", "connection_init");
            w.WriteStartObject("payload");
            w.WriteStartObject("headers");
            foreach (var (name, value) in headers)
            {
                w.WriteString(name, value);
            }

            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteUsage(Utf8JsonWriter w, UsageReport r)
    {
        w.WriteStartObject();
        w.WriteString("customerId", r.CustomerId);
        w.WriteString("featureId", r.FeatureId);
        w.WriteNumber("value", r.Value);
        if (r.ResourceId is not null)
        {
            w.WriteString("resourceId", r.ResourceId);
        }

        w.WriteString("updateBehavior", r.UpdateBehavior == UsageUpdateBehavior.Set ? "SET" : "DELTA");
        if (r.CreatedAt is { } createdAt)
        {
            w.WriteString("createdAt", Instants.ToIso(createdAt));
        }

        if (r.Dimensions is not null)
        {
            WriteDimensions(w, r.Dimensions);
        }

        if (r.IdempotencyKey is not null)
        {
            w.WriteString("idempotencyKey", r.IdempotencyKey);
        }

        w.WriteEndObject();
    }

    /// <summary>Stigg dimensions are flat: string, number or boolean values. Anything else is the caller's bug.</summary>
    private static void WriteDimensions(Utf8JsonWriter w, IReadOnlyDictionary<string, object?> dimensions)
    {
        w.WriteStartObject("dimensions");
        foreach (var (name, value) in dimensions)
        {
            switch (value)
            {
                case null:
                    w.WriteNull(name);
                    break;
                case string s:
                    w.WriteString(name, s);
                    break;
                case bool b:
                    w.WriteBoolean(name, b);
                    break;
                case double d:
                    w.WriteNumber(name, d);
                    break;
                case float f:
                    w.WriteNumber(name, f);
                    break;
                case int i:
                    w.WriteNumber(name, i);
                    break;
                case long l:
                    w.WriteNumber(name, l);
                    break;
                case decimal m:
                    w.WriteNumber(name, m);
                    break;
                default:
                    throw new ArgumentException(
                        $"Dimension '{name}' has a {value.GetType().Name} value; only strings, numbers and booleans are allowed.",
                        nameof(dimensions));
            }
        }

        w.WriteEndObject();
    }

    private static byte[] Write<TState>(string operationName, string query, TState state, Action<Utf8JsonWriter, TState> writeVariables)
    {
        var buffer = new ArrayBufferWriter<byte>(query.Length + 256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("operationName", operationName);
            w.WriteString("query", query);
            w.WriteStartObject("variables");
            writeVariables(w, state);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
