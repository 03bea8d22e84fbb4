using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;
using Sidecar.Emulator.Internal;

namespace Sidecar.Emulator;

/// <summary>
/// A local Stigg upstream: the Edge API, the GraphQL API and the graphql-transport-ws event stream, served from a
/// fixture, plus an admin API (HTTP under <c>/admin</c>, and the C# methods here) to change plans and usage, push
/// events and inject faults. Start it in-process with <see cref="StartAsync"/> or run the <c>stigg-emulator</c>
/// executable.
/// </summary>
public sealed class EmulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _disposed;

    private EmulatorServer(WebApplication app, EmulatorContext context, Uri baseUrl)
    {
        _app = app;
        Context = context;
        BaseUrl = baseUrl;
        WsUrl = new UriBuilder(baseUrl) { Scheme = "ws" }.Uri;
    }

    /// <summary><c>http://host:port</c>: the Edge and GraphQL base (API_URL and EDGE_API_URL of the sidecar).</summary>
    public Uri BaseUrl { get; }

    /// <summary><c>ws://host:port</c>: the sidecar's WS_URL (the socket itself is at <c>/graphql</c>).</summary>
    public Uri WsUrl { get; }

    public string ApiKey => Context.Options.ApiKey;

    /// <summary>A snapshot of the traffic counters.</summary>
    public EmulatorCounters Counters => Context.Counters.Snapshot();

    /// <summary>The faults in force.</summary>
    public EmulatorFaults Faults => Context.Faults.Current;

    /// <summary>Raw events received through <c>ReportEvent</c> (the most recent 10 000).</summary>
    public IReadOnlyList<RecordedEvent> Events => Context.State.RecordedEvents();

    internal EmulatorContext Context { get; }

    public static async Task<EmulatorServer> StartAsync(EmulatorOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.ApiKey))
        {
            throw new ArgumentException("ApiKey must not be empty.", nameof(options));
        }

        if (options.Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Port, "Port must be between 0 and 65535.");
        }

        if (options.EdgeLatency < TimeSpan.Zero || options.ConnectionInitTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "EdgeLatency must not be negative and ConnectionInitTimeout must be positive.");
        }

        // An in-memory fixture is copied: the emulator mutates what it holds, and the caller may reuse the object.
        var fixture = options.Fixture is { } given
            ? JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(given, CoreJsonContext.Default.EntitlementsFile), CoreJsonContext.Default.EntitlementsFile)
            : options.FixturePath is { } path ? await LoadFixtureAsync(path, ct).ConfigureAwait(false) : null;
        var address = ParseHost(options.Host);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ApplicationName = "stigg-emulator",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        options.ConfigureLogging?.Invoke(builder.Logging);

        // The process owner (a test, or Program) decides when to stop: no Ctrl-C/SIGTERM hooks from the host.
        builder.Services.AddSingleton<IHostLifetime, PassiveHostLifetime>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, options.Port, listen => listen.Protocols = HttpProtocols.Http1);
        });

        var app = builder.Build();
        var started = false;
        try
        {
            var context = new EmulatorContext(options, app.Services.GetRequiredService<ILoggerFactory>(), app.Lifetime.ApplicationStopping);
            if (fixture is not null)
            {
                context.State.Load(fixture);
                Log.FixtureLoaded(context.Logger, fixture.Customers.Count);
            }

            app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
            UpstreamEndpoints.Map(app, context);
            AdminEndpoints.Map(app, context);

            await app.StartAsync(ct).ConfigureAwait(false);
            started = true;
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                ?? throw new InvalidOperationException("Kestrel reported no listening address.");
            var port = new Uri(bound).Port;
            var host = address.Equals(IPAddress.Any) ? "127.0.0.1"
                : address.Equals(IPAddress.IPv6Any) ? "[::1]"
                : address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]"
                : address.ToString();
            return new EmulatorServer(app, context, new Uri($"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}"));
        }
        catch
        {
            if (started)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }

            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Replaces a customer's (or resource's) state and pushes <c>entitlementsUpdatedV2</c>.</summary>
    /// <returns>The stored state, with the fresh <c>entitlementUpdatedAt</c> stamps.</returns>
    public EntitlementsStateDto SetCustomer(string customerId, string? resourceId, EntitlementsStateDto state)
    {
        ArgumentNullException.ThrowIfNull(state);

        // The state is stored by value: round-trip it so later changes to the caller's object do not leak in.
        var copy = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(state, CoreJsonContext.Default.EntitlementsStateDto), CoreJsonContext.Default.EntitlementsStateDto)!;
        var json = Context.State.Replace(customerId, resourceId, copy);
        Log.AdminChange(Context.Logger, "replaced", customerId);
        return JsonSerializer.Deserialize(json, CoreJsonContext.Default.EntitlementsStateDto)!;
    }

    /// <summary>
    /// Removes a customer (with its resources) or one resource, pushing <c>entitlementsUpdatedV2</c> with an empty
    /// list and <c>CustomerNotFound</c> (<c>CustomerResourceNotFound</c> for a resource of a remaining customer).
    /// </summary>
    public bool RemoveCustomer(string customerId, string? resourceId = null) => Context.RemoveCustomer(customerId, resourceId);

    /// <summary>The current state of an entry (usage included), or null when there is none.</summary>
    public EntitlementsStateDto? GetCustomer(string customerId, string? resourceId = null) =>
        Context.State.StateJson(customerId, resourceId) is { } json
            ? JsonSerializer.Deserialize(json, CoreJsonContext.Default.EntitlementsStateDto)
            : null;

    /// <summary>Changes usage or a credit balance and pushes <c>usageUpdatedV2</c>.</summary>
    /// <exception cref="EmulatorException">Unknown customer, resource, feature or currency, or bad input.</exception>
    public UsageChange ReportUsage(AdminUsageRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Context.State.AdminUsage(request);
    }

    /// <summary>Pushes <c>packagePublished</c>.</summary>
    public PackagePublished PublishPackage(PackagePublishRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Context.State.PublishPackage(request);
    }

    /// <summary>Replaces the faults in force (and restarts their <c>failCount</c> budgets).</summary>
    public void SetFaults(EmulatorFaults faults)
    {
        ArgumentNullException.ThrowIfNull(faults);
        Context.SetFaults(faults);
    }

    public void ClearFaults() => SetFaults(new EmulatorFaults());

    /// <summary>Aborts every open WebSocket (no close handshake); returns how many were open.</summary>
    public int DropWebSockets() => Context.DropWebSockets();

    /// <summary>Waits until the counters satisfy <paramref name="condition"/> (checked on every change).</summary>
    public Task<EmulatorCounters> WaitForCountersAsync(Func<EmulatorCounters, bool> condition, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return Context.Counters.WaitAsync(condition, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Open sockets would hold the shutdown for its whole timeout.
        Context.Hub.AbortAll();
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    internal static async Task<EntitlementsFile> LoadFixtureAsync(string path, CancellationToken ct)
    {
        try
        {
            await using var stream = File.OpenRead(path);
            return await JsonSerializer.DeserializeAsync(stream, CoreJsonContext.Default.EntitlementsFile, ct).ConfigureAwait(false)
                ?? throw new InvalidDataException($"Fixture '{path}' is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Fixture '{path}' is not a valid entitlements file: {ex.Message}", ex);
        }
    }

    private static IPAddress ParseHost(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        return IPAddress.TryParse(host, out var address)
            ? address
            : throw new ArgumentException($"Host must be an IP address or 'localhost', not '{host}'.", nameof(host));
    }

    /// <summary>A host lifetime that neither waits for nor listens to console signals.</summary>
    private sealed class PassiveHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
