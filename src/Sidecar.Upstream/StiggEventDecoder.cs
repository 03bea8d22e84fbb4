using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Sidecar.Upstream.Internal;

namespace Sidecar.Upstream;

/// <summary>A Stigg event, decoded and mapped, ready for <see cref="EventStreamHandlers"/>.</summary>
internal abstract record StiggEvent;

/// <summary>A customer's whole entitlements state was replaced (§3.3).</summary>
internal sealed record EntitlementsUpdatedEvent(CustomerSnapshot Snapshot) : StiggEvent;

/// <summary>Stigg's "forget this customer": an empty entitlements list with no access-denied reason (§3.3).</summary>
internal sealed record EntitlementsRemovedEvent(CustomerKey Key) : StiggEvent;

/// <summary>An absolute usage value (§3.4).</summary>
internal sealed record UsageUpdatedEvent(CustomerKey Key, UsageUpdate Update) : StiggEvent;

/// <summary>A package was published; <paramref name="AllCustomers"/> for <c>ALL_CUSTOMERS</c> migrations (§3.5).</summary>
internal sealed record PackagePublishedEvent(bool AllCustomers) : StiggEvent;

/// <summary>One subscription the stream holds: its graphql-transport-ws id and its document.</summary>
internal readonly record struct StiggSubscription(string Id, string OperationName, string Query);

/// <summary>
/// Stigg's three V2 subscriptions (§3.2) and how the payload of their <c>next</c> messages becomes a
/// <see cref="StiggEvent"/> (§3.3–3.5). No I/O: the clock stamps snapshots and usage without a timestamp, and
/// unusable events are logged and dropped (null).
/// </summary>
internal sealed class StiggEventDecoder(TimeProvider time, ILogger logger)
{
    public const string EntitlementsId = "entitlements";
    public const string UsageId = "usage";
    public const string PackagesId = "packages";

    public static IReadOnlyList<StiggSubscription> Subscriptions { get; } =
    [
        new(EntitlementsId, GraphQlDocuments.OnEntitlementsUpdatedV2Name, GraphQlDocuments.OnEntitlementsUpdatedV2),
        new(UsageId, GraphQlDocuments.OnUsageUpdatedV2Name, GraphQlDocuments.OnUsageUpdatedV2),
        new(PackagesId, GraphQlDocuments.OnPackagePublishedName, GraphQlDocuments.OnPackagePublished),
    ];

    /// <summary>The operation name of subscription <paramref name="id"/>, for log lines.</summary>
    public static string OperationOf(string? id) => id switch
    {
        EntitlementsId => GraphQlDocuments.OnEntitlementsUpdatedV2Name,
        UsageId => GraphQlDocuments.OnUsageUpdatedV2Name,
        PackagesId => GraphQlDocuments.OnPackagePublishedName,
        _ => id ?? "(no id)",
    };

    /// <summary>
    /// The event in a <c>next</c> message of subscription <paramref name="subscriptionId"/>, or null (logged) when the
    /// payload is unusable: missing, not JSON of the expected shape, carrying GraphQL errors or lacking an id.
    /// </summary>
    public StiggEvent? Decode(string? subscriptionId, JsonElement? payload)
    {
        if (payload is not { ValueKind: JsonValueKind.Object } body)
        {
            Log.StreamEventIgnored(logger, OperationOf(subscriptionId), "no payload");
            return null;
        }

        try
        {
            return subscriptionId switch
            {
                EntitlementsId => ToEntitlementsEvent(body.Deserialize(UpstreamJsonContext.Default.GraphQlResponseEntitlementsUpdatedData)),
                UsageId => ToUsageEvent(body.Deserialize(UpstreamJsonContext.Default.GraphQlResponseUsageUpdatedData)),
                PackagesId => ToPackageEvent(body.Deserialize(UpstreamJsonContext.Default.GraphQlResponsePackagePublishedData)),
                _ => null,
            };
        }
        catch (JsonException ex)
        {
            Log.StreamEventIgnored(logger, OperationOf(subscriptionId), ex.Message);
            return null;
        }
    }

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    private StiggEvent? ToEntitlementsEvent(GraphQlResponse<EntitlementsUpdatedData>? response)
    {
        const string Operation = GraphQlDocuments.OnEntitlementsUpdatedV2Name;
        if (response?.Errors is { Count: > 0 } errors)
        {
            Log.StreamEventIgnored(logger, Operation, errors[0].Message ?? "GraphQL error");
            return null;
        }

        if (response?.Data?.EntitlementsUpdatedV2 is not { CustomerId: { Length: > 0 } customerId } e)
        {
            Log.StreamEventIgnored(logger, Operation, "no customerId");
            return null;
        }

        var key = new CustomerKey(customerId, NullIfEmpty(e.ResourceId));
        var entitlements = e.Entitlements ?? [];
        if (entitlements.Count == 0 && string.IsNullOrEmpty(e.AccessDeniedReason))
        {
            // Stigg's rule: nothing granted and no reason given means "forget this customer"; the next check refetches.
            return new EntitlementsRemovedEvent(key);
        }

        var state = new EntitlementsStateDto { AccessDeniedReason = e.AccessDeniedReason, EntitlementsV2 = entitlements };
        return new EntitlementsUpdatedEvent(EntitlementsStateMapper.ToSnapshot(key, state, NowMs));
    }

    private UsageUpdatedEvent? ToUsageEvent(GraphQlResponse<UsageUpdatedData>? response)
    {
        const string Operation = GraphQlDocuments.OnUsageUpdatedV2Name;
        if (response?.Errors is { Count: > 0 } errors)
        {
            Log.StreamEventIgnored(logger, Operation, errors[0].Message ?? "GraphQL error");
            return null;
        }

        if (response?.Data?.UsageUpdatedV2 is not { CustomerId: { Length: > 0 } customerId } e
            || e.EntitlementReference is not { Id: { Length: > 0 } refId } reference
            || e.Usage is not { CurrentUsage: { } currentUsage } usage)
        {
            Log.StreamEventIgnored(logger, Operation, "customerId, entitlementReference or usage.currentUsage missing");
            return null;
        }

        EntitlementRefType type;
        if (string.Equals(reference.Type, "FEATURE", StringComparison.OrdinalIgnoreCase))
        {
            type = EntitlementRefType.Feature;
        }
        else if (string.Equals(reference.Type, "CREDIT", StringComparison.OrdinalIgnoreCase))
        {
            type = EntitlementRefType.Credit;
        }
        else
        {
            Log.StreamEventIgnored(logger, Operation, "unknown entitlementReference.type");
            return null;
        }

        var update = new UsageUpdate(
            type,
            refId,
            currentUsage,
            usage.UsagePeriodStart,
            usage.UsagePeriodEnd,
            usage.UsageUpdatedAt ?? NowMs);
        return new UsageUpdatedEvent(new CustomerKey(customerId, NullIfEmpty(e.ResourceId)), update);
    }

    private PackagePublishedEvent? ToPackageEvent(GraphQlResponse<PackagePublishedData>? response)
    {
        if (response?.Data?.PackagePublished is not { } package)
        {
            Log.StreamEventIgnored(logger, GraphQlDocuments.OnPackagePublishedName, response?.Errors is { Count: > 0 } e ? e[0].Message ?? "GraphQL error" : "no data");
            return null;
        }

        return new PackagePublishedEvent(string.Equals(package.MigrationType, "ALL_CUSTOMERS", StringComparison.OrdinalIgnoreCase));
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
