using System.Text.Json;
using System.Text.Json.Serialization;
using Sidecar.Core.Model;

namespace Sidecar.Emulator;

// The admin API's request and response shapes. The same records back the HTTP admin API (camelCase JSON through
// EmulatorJsonContext) and the C# methods on EmulatorServer.

/// <summary>
/// Injected upstream trouble. Every field is optional; <c>DELETE /admin/faults</c> (or
/// <see cref="EmulatorServer.ClearFaults"/>) removes them all.
/// </summary>
public sealed record EmulatorFaults
{
    /// <summary>Delay before each Edge answer, replacing <see cref="EmulatorOptions.EdgeLatency"/> while set.</summary>
    public int? EdgeLatencyMs { get; init; }

    /// <summary>Delay before each <c>POST /graphql</c> answer.</summary>
    public int? GraphQlLatencyMs { get; init; }

    /// <summary>HTTP status forced on Edge requests (entitlements and SDK configuration), e.g. 500, 429, 503.</summary>
    public int? EdgeStatus { get; init; }

    /// <summary>HTTP status forced on <c>POST /graphql</c>.</summary>
    public int? GraphQlStatus { get; init; }

    /// <summary>Seconds sent as <c>Retry-After</c> with a forced 429 or 503.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>
    /// How many requests get the forced status, counted separately for the Edge and for GraphQL; null means every
    /// request until the faults are cleared.
    /// </summary>
    public int? FailCount { get; init; }

    /// <summary>New WebSocket upgrades are refused with 503 (open sockets stay up; see <c>/admin/ws/drop</c>).</summary>
    public bool? WsRefuse { get; init; }

    /// <summary>
    /// A connection-level fault on Edge requests (entitlements and SDK configuration). Takes precedence over
    /// <see cref="EdgeStatus"/> and shares its <see cref="FailCount"/> budget.
    /// </summary>
    public EmulatorConnectionFault? EdgeConnection { get; init; }

    /// <summary>A connection-level fault on <c>POST /graphql</c>; see <see cref="EdgeConnection"/>.</summary>
    public EmulatorConnectionFault? GraphQlConnection { get; init; }
}

/// <summary>How an emulated upstream fails below HTTP (JSON: <c>refuse</c>, <c>blackHole</c>, <c>dropAfterApply</c>).</summary>
public enum EmulatorConnectionFault
{
    /// <summary>The connection is aborted at once, before any response (the client sees a reset).</summary>
    [JsonStringEnumMemberName("refuse")]
    Refuse,

    /// <summary>
    /// The request is accepted and never answered: it ends when the client gives up, or its connection is dropped
    /// when the faults change or the emulator stops. Nothing is applied.
    /// </summary>
    [JsonStringEnumMemberName("blackHole")]
    BlackHole,

    /// <summary>
    /// The request is processed (a mutation is applied) and then the connection is dropped before the answer: the
    /// client cannot know whether it was applied.
    /// </summary>
    [JsonStringEnumMemberName("dropAfterApply")]
    DropAfterApply,
}

/// <summary>
/// An admin usage change: either a feature's usage (<see cref="FeatureId"/>; credit-backed features also consume
/// credits) or a credit balance's consumption (<see cref="CurrencyId"/>).
/// </summary>
public sealed record AdminUsageRequest
{
    public string? CustomerId { get; init; }
    public string? ResourceId { get; init; }
    public string? FeatureId { get; init; }
    public string? CurrencyId { get; init; }
    public double? Value { get; init; }

    /// <summary><c>DELTA</c> (default) adds <see cref="Value"/>; <c>SET</c> replaces the usage with it.</summary>
    public string? UpdateBehavior { get; init; }
}

/// <summary>Asks the emulator to announce a published plan or add-on.</summary>
public sealed record PackagePublishRequest
{
    /// <summary><c>ALL_CUSTOMERS</c> or <c>NEW_CUSTOMERS</c>.</summary>
    public string? MigrationType { get; init; }

    /// <summary>Defaults to <c>emulator-plan</c>.</summary>
    public string? PackageRefId { get; init; }

    /// <summary><c>PLAN</c> (default) or <c>ADDON</c>.</summary>
    public string? PackageType { get; init; }
}

/// <summary>The <c>packagePublished</c> event the emulator pushed.</summary>
public sealed record PackagePublished(
    string AccountId,
    string EnvironmentId,
    string PackageType,
    string PackageRefId,
    int PackageVersion,
    string MigrationType);

/// <summary>One accepted usage change, as pushed in <c>usageUpdatedV2</c>. Instants are epoch milliseconds.</summary>
public sealed record UsageChange(
    string CustomerId,
    string? ResourceId,
    EntitlementRefType Type,
    string Id,
    double CurrentUsage,
    long UsageUpdatedAt,
    long? UsagePeriodStart,
    long? UsagePeriodEnd);

/// <summary>A raw usage event received through the <c>ReportEvent</c> mutation.</summary>
public sealed record RecordedEvent
{
    public required string EventName { get; init; }
    public required string CustomerId { get; init; }
    public string? ResourceId { get; init; }
    public required string IdempotencyKey { get; init; }
    public JsonElement? Dimensions { get; init; }

    /// <summary>The client's <c>timestamp</c>, as sent.</summary>
    public string? Timestamp { get; init; }
    public DateTimeOffset ReceivedAt { get; init; }

    /// <summary>True when the event matched a metered feature of the customer and added 1 to its usage.</summary>
    public bool Aggregated { get; init; }
}

/// <summary>A consistent-enough snapshot of the emulator's traffic counters.</summary>
public sealed record EmulatorCounters
{
    /// <summary><c>GET /v1/c/{customerId}/entitlements-state.json</c> requests, every outcome included.</summary>
    public long EdgeRequests { get; init; }

    /// <summary><see cref="EdgeRequests"/> by customer id (resource-scoped requests count for their customer).</summary>
    public IReadOnlyDictionary<string, long> EdgeRequestsByCustomer { get; init; } = new Dictionary<string, long>();

    /// <summary><c>GET /v1/config/server-sdk-configuration.json</c> requests.</summary>
    public long SdkConfigurationRequests { get; init; }

    /// <summary><c>POST /graphql</c> requests, every outcome included.</summary>
    public long GraphQlRequests { get; init; }

    /// <summary><see cref="GraphQlRequests"/> by resolved operation name (<c>unknown</c> when none resolved).</summary>
    public IReadOnlyDictionary<string, long> GraphQlRequestsByOperation { get; init; } = new Dictionary<string, long>();

    /// <summary>WebSocket connections accepted since start (or the last reset).</summary>
    public long WsConnectionsOpened { get; init; }

    /// <summary>WebSocket connections open now (a gauge: not reset).</summary>
    public long WsOpenConnections { get; init; }

    /// <summary>Active subscriptions over all open sockets now (a gauge: not reset).</summary>
    public long WsSubscribers { get; init; }

    /// <summary>Events published to subscribers (one per event, whatever the number of receivers).</summary>
    public long EventsPublished { get; init; }

    /// <summary>Usage changes accepted (GraphQL reports, aggregated raw events and admin changes).</summary>
    public long UsageChanges { get; init; }

    /// <summary>Raw events recorded through <c>ReportEvent</c> (duplicates by idempotency key excluded).</summary>
    public long EventsRecorded { get; init; }

    /// <summary>Requests answered with an injected status.</summary>
    public long FaultsInjected { get; init; }

    /// <summary>Requests or sockets rejected for a missing or wrong API key.</summary>
    public long AuthFailures { get; init; }

    /// <summary>
    /// Usage measurements applied through <c>ReportUsage</c>/<c>ReportUsageBulk</c> (one per applied item; replays of
    /// a known idempotency key excluded).
    /// </summary>
    public long UsageMeasurementsApplied { get; init; }

    /// <summary>Usage measurements not applied because their idempotency key was already applied (answered with the earlier result).</summary>
    public long UsageMeasurementsReplayed { get; init; }

    /// <summary>
    /// Applied usage measurements by idempotency key: every value is 1 unless a key was applied twice (which the
    /// emulator, like Stigg, never does). Measurements sent without a key are not listed.
    /// </summary>
    public IReadOnlyDictionary<string, long> UsageAppliedByIdempotencyKey { get; init; } = new Dictionary<string, long>();

    public long EdgeRequestsFor(string customerId) =>
        EdgeRequestsByCustomer.TryGetValue(customerId, out var n) ? n : 0;

    public long GraphQlRequestsFor(string operationName) =>
        GraphQlRequestsByOperation.TryGetValue(operationName, out var n) ? n : 0;
}

/// <summary>A rejected emulator operation: unknown customer, feature or currency, or bad input.</summary>
public sealed class EmulatorException : Exception
{
    public EmulatorException()
    {
        Code = "BAD_USER_INPUT";
    }

    public EmulatorException(string message)
        : base(message)
    {
        Code = "BAD_USER_INPUT";
    }

    public EmulatorException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = "BAD_USER_INPUT";
    }

    public EmulatorException(string code, string message, bool isNotFound)
        : base(message)
    {
        Code = code;
        IsNotFound = isNotFound;
    }

    /// <summary>The GraphQL <c>extensions.code</c> (e.g. <c>CustomerNotFound</c>, <c>BAD_USER_INPUT</c>).</summary>
    public string Code { get; }

    /// <summary>True for an unknown customer, resource, feature or currency (the admin API answers 404).</summary>
    public bool IsNotFound { get; }

    internal static EmulatorException BadInput(string message) => new("BAD_USER_INPUT", message, isNotFound: false);

    internal static EmulatorException NotFound(string code, string message) => new(code, message, isNotFound: true);
}
