using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sidecar.Core.Json;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// The admin API under <c>/admin</c> (no API key: it is the test's or the developer's control panel, bound to the
/// same loopback address as the rest). Each change also pushes the matching WebSocket event.
/// </summary>
internal static class AdminEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EmulatorContext ctx)
    {
        app.MapGet("/admin/customers", (RequestDelegate)(http =>
            WriteAsync(http, StatusCodes.Status200OK, ctx.State.Entries(), EmulatorJsonContext.Default.ListCustomerEntryRef)));
        app.MapGet("/admin/customers/{customerId}", (RequestDelegate)(http => GetCustomerAsync(http, ctx)));
        app.MapPut("/admin/customers/{customerId}", (RequestDelegate)(http => PutCustomerAsync(http, ctx)));
        app.MapDelete("/admin/customers/{customerId}", (RequestDelegate)(http => DeleteCustomerAsync(http, ctx)));
        app.MapPost("/admin/usage", (RequestDelegate)(http => UsageAsync(http, ctx)));
        app.MapPost("/admin/packages/publish", (RequestDelegate)(http => PublishAsync(http, ctx)));
        app.MapGet("/admin/faults", (RequestDelegate)(http =>
            WriteAsync(http, StatusCodes.Status200OK, ctx.Faults.Current, EmulatorJsonContext.Default.EmulatorFaults)));
        app.MapPut("/admin/faults", (RequestDelegate)(http => PutFaultsAsync(http, ctx)));
        app.MapDelete("/admin/faults", (RequestDelegate)(http =>
        {
            ctx.SetFaults(new EmulatorFaults());
            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }));
        app.MapPost("/admin/ws/drop", (RequestDelegate)(http =>
            WriteAsync(http, StatusCodes.Status200OK, new DroppedSockets(ctx.DropWebSockets()), EmulatorJsonContext.Default.DroppedSockets)));
        app.MapGet("/admin/counters", (RequestDelegate)(http =>
            WriteAsync(http, StatusCodes.Status200OK, ctx.Counters.Snapshot(), EmulatorJsonContext.Default.EmulatorCounters)));
        app.MapPost("/admin/counters/reset", (RequestDelegate)(http =>
        {
            ctx.Counters.Reset();
            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }));
        app.MapGet("/admin/events", (RequestDelegate)(http =>
            WriteAsync(http, StatusCodes.Status200OK, ctx.State.RecordedEvents(), EmulatorJsonContext.Default.ListRecordedEvent)));
    }

    private static Task GetCustomerAsync(HttpContext http, EmulatorContext ctx)
    {
        var (customerId, resourceId) = Target(http);
        return ctx.State.StateJson(customerId, resourceId) is { } json
            ? UpstreamEndpoints.WriteJsonAsync(http, StatusCodes.Status200OK, json)
            : NotFoundAsync(http, customerId, resourceId);
    }

    private static async Task PutCustomerAsync(HttpContext http, EmulatorContext ctx)
    {
        var (customerId, resourceId) = Target(http);
        var state = await ReadAsync(http, CoreJsonContext.Default.EntitlementsStateDto).ConfigureAwait(false);
        if (state is null)
        {
            return;
        }

        await RunAsync(http, () =>
        {
            var json = ctx.State.Replace(customerId, resourceId, state);
            Log.AdminChange(ctx.Logger, "replaced", Describe(customerId, resourceId));
            return UpstreamEndpoints.WriteJsonAsync(http, StatusCodes.Status200OK, json);
        }).ConfigureAwait(false);
    }

    private static Task DeleteCustomerAsync(HttpContext http, EmulatorContext ctx)
    {
        var (customerId, resourceId) = Target(http);
        return RunAsync(http, () =>
        {
            if (!ctx.RemoveCustomer(customerId, resourceId))
            {
                return NotFoundAsync(http, customerId, resourceId);
            }

            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        });
    }

    private static async Task UsageAsync(HttpContext http, EmulatorContext ctx)
    {
        var request = await ReadAsync(http, EmulatorJsonContext.Default.AdminUsageRequest).ConfigureAwait(false);
        if (request is null)
        {
            return;
        }

        await RunAsync(http, () =>
            UpstreamEndpoints.WriteJsonAsync(http, StatusCodes.Status200OK, Wire.UsageChangeJson(ctx.State.AdminUsage(request)))).ConfigureAwait(false);
    }

    private static async Task PublishAsync(HttpContext http, EmulatorContext ctx)
    {
        var request = await ReadAsync(http, EmulatorJsonContext.Default.PackagePublishRequest).ConfigureAwait(false);
        if (request is null)
        {
            return;
        }

        await RunAsync(http, () =>
            WriteAsync(http, StatusCodes.Status200OK, ctx.State.PublishPackage(request), EmulatorJsonContext.Default.PackagePublished)).ConfigureAwait(false);
    }

    private static async Task PutFaultsAsync(HttpContext http, EmulatorContext ctx)
    {
        var faults = await ReadAsync(http, EmulatorJsonContext.Default.EmulatorFaults).ConfigureAwait(false);
        if (faults is null)
        {
            return;
        }

        await RunAsync(http, () =>
        {
            ctx.SetFaults(faults);
            return WriteAsync(http, StatusCodes.Status200OK, faults, EmulatorJsonContext.Default.EmulatorFaults);
        }).ConfigureAwait(false);
    }

    private static (string CustomerId, string? ResourceId) Target(HttpContext http) =>
        (RawRequest.PathSegment(http, 2) ?? string.Empty, RawRequest.Query(http, "resourceId"));

    /// <summary>Runs an admin action, mapping a rejected one to 404 (unknown target) or 400 (bad input).</summary>
    private static async Task RunAsync(HttpContext http, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (EmulatorException ex)
        {
            await WriteErrorAsync(http, ex.IsNotFound ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest, ex.Message).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a JSON body; answers 400 and returns null when it is missing or malformed.</summary>
    private static async Task<T?> ReadAsync<T>(HttpContext http, JsonTypeInfo<T> typeInfo)
        where T : class
    {
        try
        {
            var value = await JsonSerializer.DeserializeAsync(http.Request.Body, typeInfo, http.RequestAborted).ConfigureAwait(false);
            if (value is null)
            {
                await WriteErrorAsync(http, StatusCodes.Status400BadRequest, "A JSON body is required.").ConfigureAwait(false);
            }

            return value;
        }
        catch (JsonException ex)
        {
            await WriteErrorAsync(http, StatusCodes.Status400BadRequest, $"Invalid JSON body: {ex.Message}").ConfigureAwait(false);
            return null;
        }
    }

    private static Task NotFoundAsync(HttpContext http, string customerId, string? resourceId) =>
        WriteErrorAsync(http, StatusCodes.Status404NotFound, $"No entry for {Describe(customerId, resourceId)}.");

    private static Task WriteErrorAsync(HttpContext http, int status, string message) =>
        WriteAsync(http, status, new AdminError(message), EmulatorJsonContext.Default.AdminError);

    private static async Task WriteAsync<T>(HttpContext http, int status, T value, JsonTypeInfo<T> typeInfo)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(http.Response.Body, value, typeInfo, http.RequestAborted).ConfigureAwait(false);
    }

    private static string Describe(string customerId, string? resourceId) =>
        resourceId is null ? $"customer '{customerId}'" : $"customer '{customerId}' resource '{resourceId}'";
}
