using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Sidecar.Emulator.Internal;

/// <summary>What the sidecar talks to: the Edge (§2), <c>POST /graphql</c> (§2.5, §8) and the WebSocket (§3).</summary>
internal static class UpstreamEndpoints
{
    private static readonly byte[] Unauthorized = Wire.GraphQlError("Invalid API key", "Unauthenticated", null);

    public static void Map(IEndpointRouteBuilder app, EmulatorContext ctx)
    {
        app.MapGet("/v1/c/{customerId}/entitlements-state.json", (RequestDelegate)(http => EdgeEntitlementsAsync(http, ctx)));
        app.MapGet("/v1/config/server-sdk-configuration.json", (RequestDelegate)(http => EdgeSdkConfigurationAsync(http, ctx)));
        app.MapPost("/graphql", (RequestDelegate)(http => GraphQlAsync(http, ctx)));
        app.MapGet("/graphql", (RequestDelegate)(http => WebSocketAsync(http, ctx)));
    }

    private static async Task EdgeEntitlementsAsync(HttpContext http, EmulatorContext ctx)
    {
        var customerId = RawRequest.PathSegment(http, 2) ?? string.Empty;
        var resourceId = RawRequest.Query(http, "resourceId");
        ctx.Counters.EdgeRequest(customerId);
        var fault = await PassEdgeFaultsAsync(http, ctx).ConfigureAwait(false);
        if (fault is null)
        {
            return;
        }

        var body = ctx.State.EntitlementsEnvelope(customerId, resourceId);
        if (!DroppedAfterApply(http, ctx, fault.Value))
        {
            await WriteJsonAsync(http, StatusCodes.Status200OK, body).ConfigureAwait(false);
        }
    }

    private static async Task EdgeSdkConfigurationAsync(HttpContext http, EmulatorContext ctx)
    {
        ctx.Counters.SdkConfigurationRequest();
        var fault = await PassEdgeFaultsAsync(http, ctx).ConfigureAwait(false);
        if (fault is null || DroppedAfterApply(http, ctx, fault.Value))
        {
            return;
        }

        await WriteJsonAsync(http, StatusCodes.Status200OK, Wire.SdkConfiguration).ConfigureAwait(false);
    }

    /// <summary>
    /// Latency, then a fault, then the API key. Null when the request has been answered (or dropped); otherwise the
    /// fault still to apply after processing (<c>dropAfterApply</c>), or none.
    /// </summary>
    private static async Task<InjectedFault?> PassEdgeFaultsAsync(HttpContext http, EmulatorContext ctx)
    {
        var latency = ctx.Faults.EdgeLatency ?? ctx.Options.EdgeLatency;
        if (latency > TimeSpan.Zero && !await ctx.DelayAsync(latency, http.RequestAborted).ConfigureAwait(false))
        {
            http.Abort();
            return null;
        }

        var fault = ctx.Faults.TakeEdge();
        if (!await PassFaultBeforeProcessingAsync(http, ctx, fault).ConfigureAwait(false))
        {
            return null;
        }

        if (!HasApiKey(http, ctx))
        {
            await WriteJsonAsync(http, StatusCodes.Status401Unauthorized, Unauthorized).ConfigureAwait(false);
            return null;
        }

        return fault;
    }

    /// <summary>
    /// Applies a fault that strikes before the request is processed: <c>refuse</c> aborts the connection at once,
    /// <c>blackHole</c> holds the request unanswered until the client gives up (or the faults change, or the emulator
    /// stops) and then drops it, a forced status answers. False when the request is done.
    /// </summary>
    private static async Task<bool> PassFaultBeforeProcessingAsync(HttpContext http, EmulatorContext ctx, InjectedFault fault)
    {
        switch (fault.Connection)
        {
            case EmulatorConnectionFault.Refuse:
                ctx.Counters.FaultInjected();
                http.Abort();
                return false;

            case EmulatorConnectionFault.BlackHole:
                ctx.Counters.FaultInjected();
                using (var held = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, ctx.Stopping))
                {
                    try
                    {
                        await ctx.Faults.Changed.WaitAsync(held.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // The client gave up or the emulator stops.
                    }
                }

                // Whatever ended the wait, this request is never answered.

                http.Abort();
                return false;
        }

        if (fault.Status is { } failure)
        {
            await WriteFailureAsync(http, ctx, failure).ConfigureAwait(false);
            return false;
        }

        return true;
    }

    /// <summary><c>dropAfterApply</c>: the work is done, the answer is lost (the connection is aborted). True when dropped.</summary>
    private static bool DroppedAfterApply(HttpContext http, EmulatorContext ctx, InjectedFault fault)
    {
        if (fault.Connection != EmulatorConnectionFault.DropAfterApply)
        {
            return false;
        }

        ctx.Counters.FaultInjected();
        http.Abort();
        return true;
    }

    private static async Task GraphQlAsync(HttpContext http, EmulatorContext ctx)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(http.Request.Body, default, http.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            ctx.Counters.GraphQlRequest("unknown");
            await WriteJsonAsync(http, StatusCodes.Status400BadRequest, Wire.GraphQlError("The request body is not JSON.", "BAD_REQUEST", null)).ConfigureAwait(false);
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            var query = StringProperty(root, "query");
            var operationName = StringProperty(root, "operationName");
            var operation = GraphQlDocument.ResolveOperation(operationName, query);
            ctx.Counters.GraphQlRequest(operation is { } op ? Name(op) : "unknown");

            var latency = ctx.Faults.GraphQlLatency;
            if (latency is { } delay && delay > TimeSpan.Zero && !await ctx.DelayAsync(delay, http.RequestAborted).ConfigureAwait(false))
            {
                http.Abort();
                return;
            }

            var fault = ctx.Faults.TakeGraphQl();
            if (!await PassFaultBeforeProcessingAsync(http, ctx, fault).ConfigureAwait(false))
            {
                return;
            }

            if (!HasApiKey(http, ctx))
            {
                await WriteJsonAsync(http, StatusCodes.Status401Unauthorized, Unauthorized).ConfigureAwait(false);
                return;
            }

            if (root.ValueKind != JsonValueKind.Object || (query is null && operationName is null))
            {
                await WriteJsonAsync(http, StatusCodes.Status400BadRequest, Wire.GraphQlError("Must provide a query string.", "BAD_REQUEST", null)).ConfigureAwait(false);
                return;
            }

            if (operation is not { } resolved)
            {
                var unknown = Wire.GraphQlError(
                    $"Unknown operation '{operationName ?? GraphQlDocument.DeclaredName(query ?? string.Empty) ?? "anonymous"}': the emulator answers GetEntitlementsState, ReportUsage, ReportUsageBulk, ReportEvent and GetSdkConfiguration.",
                    "GRAPHQL_VALIDATION_FAILED",
                    null);
                await WriteJsonAsync(http, StatusCodes.Status200OK, unknown).ConfigureAwait(false);
                return;
            }

            var variables = root.TryGetProperty("variables", out var v) && v.ValueKind == JsonValueKind.Object ? v : default;
            byte[] body;
            try
            {
                body = Execute(ctx, resolved, variables);
            }
            catch (EmulatorException ex)
            {
                body = Wire.GraphQlError(ex.Message, ex.Code, FieldName(resolved));
            }
            catch (JsonException ex)
            {
                body = Wire.GraphQlError($"Invalid variables: {ex.Message}", "BAD_USER_INPUT", FieldName(resolved));
            }

            if (DroppedAfterApply(http, ctx, fault))
            {
                return;
            }

            await WriteJsonAsync(http, StatusCodes.Status200OK, body).ConfigureAwait(false);
        }
    }

    private static byte[] Execute(EmulatorContext ctx, GraphQlOperation operation, JsonElement variables)
    {
        switch (operation)
        {
            case GraphQlOperation.GetEntitlementsState:
            {
                var query = Required(variables, "query");
                var customerId = StringProperty(query, "customerId") is { Length: > 0 } c ? c : throw EmulatorException.BadInput("query.customerId is required.");
                return ctx.State.EntitlementsEnvelope(customerId, StringProperty(query, "resourceId"));
            }

            case GraphQlOperation.ReportUsage:
            {
                var input = Required(variables, "input").Deserialize(EmulatorJsonContext.Default.ReportUsageInput)
                    ?? throw EmulatorException.BadInput("input is required.");
                return Wire.DataEnvelope("reportUsage", ctx.State.ReportUsage(input));
            }

            case GraphQlOperation.ReportUsageBulk:
            {
                var input = Required(variables, "input").Deserialize(EmulatorJsonContext.Default.ReportUsageBulkInput);
                var usages = input?.Usages ?? throw EmulatorException.BadInput("input.usages is required.");
                return Wire.DataArrayEnvelope("reportUsageBulk", ctx.State.ReportUsageBulk(usages));
            }

            case GraphQlOperation.ReportEvent:
            {
                var events = Required(variables, "events").Deserialize(EmulatorJsonContext.Default.UsageEventsInput);
                ctx.State.ReportEvents(events?.UsageEvents ?? throw EmulatorException.BadInput("events.usageEvents is required."));
                return Wire.DataEnvelope("reportEvent", "null"u8.ToArray());
            }

            case GraphQlOperation.GetSdkConfiguration:
                return Wire.SdkConfiguration;

            default:
                throw new ArgumentOutOfRangeException(nameof(operation));
        }
    }

    private static async Task WebSocketAsync(HttpContext http, EmulatorContext ctx)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            await http.Response.WriteAsync("Expected a WebSocket upgrade (graphql-transport-ws).", http.RequestAborted).ConfigureAwait(false);
            return;
        }

        if (ctx.Faults.RefuseWebSockets)
        {
            ctx.Counters.FaultInjected();
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        var offered = http.WebSockets.WebSocketRequestedProtocols.Contains(WsConnection.SubProtocol, StringComparer.Ordinal);
        using var socket = await http.WebSockets.AcceptWebSocketAsync(offered ? WsConnection.SubProtocol : null).ConfigureAwait(false);
        ctx.Counters.WsOpened();
        Log.SocketOpened(ctx.Logger, http.Connection.RemoteIpAddress + ":" + http.Connection.RemotePort.ToString(CultureInfo.InvariantCulture));
        using var connection = new WsConnection(socket, ctx.Options.ApiKey, ctx.Counters, ctx.Logger, ctx.Time, ctx.Options.ConnectionInitTimeout, ctx.Stopping);
        if (!offered)
        {
            connection.Close(4406, "Subprotocol not acceptable");
        }

        ctx.Hub.Register(connection);
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            ctx.Hub.Unregister(connection);
            ctx.Counters.WsClosed();
        }
    }

    private static bool HasApiKey(HttpContext http, EmulatorContext ctx)
    {
        // Header names are case-insensitive: the Edge client sends X-API-KEY, the GraphQL client x-api-key.
        if (http.Request.Headers.TryGetValue("X-API-KEY", out var key) && string.Equals(key.ToString(), ctx.Options.ApiKey, StringComparison.Ordinal))
        {
            return true;
        }

        ctx.Counters.AuthFailure();
        return false;
    }

    private static Task WriteFailureAsync(HttpContext http, EmulatorContext ctx, ForcedFailure failure)
    {
        ctx.Counters.FaultInjected();
        if (failure.RetryAfterSeconds is { } seconds)
        {
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        var body = Wire.GraphQlError($"Emulated upstream failure (HTTP {failure.Status}).", "EMULATED_FAULT", null);
        return WriteJsonAsync(http, failure.Status, body);
    }

    public static Task WriteJsonAsync(HttpContext http, int status, byte[] body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        http.Response.ContentLength = body.Length;
        return http.Response.Body.WriteAsync(body, http.RequestAborted).AsTask();
    }

    private static JsonElement Required(JsonElement variables, string name) =>
        variables.ValueKind == JsonValueKind.Object && variables.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object
            ? value
            : throw EmulatorException.BadInput($"Variable '{name}' is required and must be an object.");

    private static string? StringProperty(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static string Name(GraphQlOperation operation) => operation switch
    {
        GraphQlOperation.GetEntitlementsState => "GetEntitlementsState",
        GraphQlOperation.ReportUsage => "ReportUsage",
        GraphQlOperation.ReportUsageBulk => "ReportUsageBulk",
        GraphQlOperation.ReportEvent => "ReportEvent",
        GraphQlOperation.GetSdkConfiguration => "GetSdkConfiguration",
        _ => "unknown",
    };

    private static string FieldName(GraphQlOperation operation) => operation switch
    {
        GraphQlOperation.GetEntitlementsState => "entitlementsState",
        GraphQlOperation.ReportUsage => "reportUsage",
        GraphQlOperation.ReportUsageBulk => "reportUsageBulk",
        GraphQlOperation.ReportEvent => "reportEvent",
        _ => "sdkConfiguration",
    };
}
