using Sidecar.Core.Json;

namespace Sidecar.Emulator.Internal;

/// <summary>Admin changes to the customer entries and package publishes; each pushes its WebSocket event.</summary>
internal sealed partial class EmulatorState
{
    private readonly Dictionary<string, int> _packageVersions = new(StringComparer.Ordinal);

    /// <summary>
    /// Replaces an entry's state and pushes <c>entitlementsUpdatedV2</c>. Every entitlement gets a fresh
    /// <c>entitlementUpdatedAt</c> so a sidecar's timestamp guard accepts the replacement.
    /// </summary>
    public byte[] Replace(string customerId, string? resourceId, EntitlementsStateDto state)
    {
        var key = Validate(customerId, resourceId);
        var entitlements = Normalize(state.EntitlementsV2);
        lock (_gate)
        {
            var now = Now;
            long previous = 0;
            if (_entries.TryGetValue(key, out var existing))
            {
                foreach (var e in existing.Entitlements)
                {
                    previous = Math.Max(previous, e.EntitlementUpdatedAt ?? 0);
                }
            }

            var stamp = Math.Max(now, previous + 1);
            foreach (var e in entitlements)
            {
                e.EntitlementUpdatedAt = stamp;
                e.UsageUpdatedAt ??= stamp;
            }

            var entry = new Entry(key, state.AccessDeniedReason, entitlements);
            Periods.RollOver(entry.Entitlements, now);
            entry.Invalidate();
            _entries[key] = entry;
            _hub.Publish(SubscriptionKind.EntitlementsUpdated, Wire.EntitlementsUpdatedData(key.CustomerId, key.ResourceId, entry.Reason, entry.Entitlements));
            return Wire.Build(entry, static (w, e) => Wire.WriteState(w, e.Reason, e.Entitlements, legacyList: false));
        }
    }

    /// <summary>
    /// Removes an entry (a customer-level removal also removes the customer's resources) and pushes, for each
    /// removed entry, <c>entitlementsUpdatedV2</c> with an empty list and the reason the Edge now answers with.
    /// </summary>
    public bool Remove(string customerId, string? resourceId)
    {
        var key = Validate(customerId, resourceId);
        lock (_gate)
        {
            if (!_entries.ContainsKey(key))
            {
                return false;
            }

            var removed = key.ResourceId is null
                ? _entries.Keys.Where(k => string.Equals(k.CustomerId, key.CustomerId, StringComparison.Ordinal)).OrderBy(k => k.ResourceId is not null).ToList()
                : [key];
            foreach (var k in removed)
            {
                _entries.Remove(k);
            }

            foreach (var k in removed)
            {
                var reason = k.ResourceId is not null && _entries.ContainsKey(k.Global) ? "CustomerResourceNotFound" : "CustomerNotFound";
                _hub.Publish(SubscriptionKind.EntitlementsUpdated, Wire.EntitlementsUpdatedData(k.CustomerId, k.ResourceId, reason, []));
            }

            return true;
        }
    }

    public PackagePublished PublishPackage(PackagePublishRequest request)
    {
        var migration = request.MigrationType?.ToUpperInvariant() switch
        {
            "ALL_CUSTOMERS" => "ALL_CUSTOMERS",
            "NEW_CUSTOMERS" => "NEW_CUSTOMERS",
            _ => throw EmulatorException.BadInput("migrationType must be ALL_CUSTOMERS or NEW_CUSTOMERS."),
        };
        var packageType = request.PackageType?.ToUpperInvariant() switch
        {
            null or "" or "PLAN" => "PLAN",
            "ADDON" => "ADDON",
            _ => throw EmulatorException.BadInput("packageType must be PLAN or ADDON."),
        };
        var refId = request.PackageRefId is { Length: > 0 } r ? r : "emulator-plan";

        lock (_gate)
        {
            var version = _packageVersions.TryGetValue(refId, out var v) ? v + 1 : 1;
            _packageVersions[refId] = version;
            var published = new PackagePublished(AccountId, EnvironmentId, packageType, refId, version, migration);
            _hub.Publish(SubscriptionKind.PackagePublished, Wire.PackagePublishedData(published));
            return published;
        }
    }
}
