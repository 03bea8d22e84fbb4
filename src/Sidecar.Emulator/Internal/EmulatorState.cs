using Sidecar.Core.Json;
using Sidecar.Core.Model;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// The emulated environment: customers' entitlement states, usage, credit balances, recorded events and
/// idempotency keys. One lock guards every read and write (this is a test double of a remote service, not a hot
/// path); every change publishes its WebSocket event while the lock is held so events go out in state order.
/// </summary>
/// <remarks>
/// <para>
/// Timestamps the emulator stamps (<c>entitlementUpdatedAt</c> on replace, <c>usageUpdatedAt</c> on usage) are
/// strictly increasing per entitlement — now, or the previous value + 1 ms when the clock has not moved past it —
/// so a sidecar's timestamp guard (DESIGN decision 2) never drops a change the emulator made.
/// </para>
/// <para>
/// Split by concern: entries and reads here; admin changes to customers and packages (<c>.Customers.cs</c>);
/// usage and credit consumption (<c>.Usage.cs</c>); raw events (<c>.Events.cs</c>).
/// </para>
/// </remarks>
internal sealed partial class EmulatorState
{
    public const string AccountId = "emulator-account";
    public const string EnvironmentId = "emulator-environment";

    /// <summary>Per map: usage reports and raw events each remember this many idempotency keys.</summary>
    private const int MaxIdempotencyKeys = 100_000;

    private static readonly byte[] CustomerNotFoundEnvelope = Wire.EntitlementsEnvelope("CustomerNotFound", []);
    private static readonly byte[] ResourceNotFoundEnvelope = Wire.EntitlementsEnvelope("CustomerResourceNotFound", []);

    private readonly Lock _gate = new();
    private readonly Dictionary<CustomerKey, Entry> _entries = [];
    private readonly EventHub _hub;
    private readonly CounterSet _counters;
    private readonly TimeProvider _time;

    public EmulatorState(EventHub hub, CounterSet counters, TimeProvider time)
    {
        _hub = hub;
        _counters = counters;
        _time = time;
    }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Loads a fixture as the initial state; its timestamps are kept as written. No events are pushed.</summary>
    public void Load(EntitlementsFile fixture)
    {
        lock (_gate)
        {
            var index = 0;
            foreach (var customer in fixture.Customers)
            {
                index++;
                if (customer.CustomerId is not { Length: > 0 } customerId)
                {
                    throw new InvalidDataException($"Fixture customer #{index} has no customerId.");
                }

                var key = new CustomerKey(customerId, NullIfEmpty(customer.ResourceId));
                if (_entries.ContainsKey(key))
                {
                    throw new InvalidDataException($"Fixture lists {Describe(key)} twice.");
                }

                var state = customer.EntitlementsState ?? new EntitlementsStateDto();
                List<EntitlementDto> entitlements;
                try
                {
                    entitlements = Normalize(state.EntitlementsV2);
                }
                catch (EmulatorException ex)
                {
                    throw new InvalidDataException($"Fixture {Describe(key)}: {ex.Message}", ex);
                }

                var entry = new Entry(key, state.AccessDeniedReason, entitlements);
                entry.Invalidate();
                _entries.Add(key, entry);
            }
        }
    }

    // ---- Reads -------------------------------------------------------------------------------------------------

    /// <summary>The Edge / <c>GetEntitlementsState</c> body for an entry (decision 6 for unknown customers).</summary>
    public byte[] EntitlementsEnvelope(string customerId, string? resourceId)
    {
        var key = new CustomerKey(customerId, NullIfEmpty(resourceId));
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var entry))
            {
                RollOverIfDue(entry);
                return entry.Envelope ??= Wire.EntitlementsEnvelope(entry.Reason, entry.Entitlements);
            }

            return key.ResourceId is not null && _entries.ContainsKey(key.Global)
                ? ResourceNotFoundEnvelope
                : CustomerNotFoundEnvelope;
        }
    }

    /// <summary>The stored state as <c>EntitlementsState</c> JSON (the admin GET body), or null when unknown.</summary>
    public byte[]? StateJson(string customerId, string? resourceId)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(new CustomerKey(customerId, NullIfEmpty(resourceId)), out var entry))
            {
                return null;
            }

            RollOverIfDue(entry);
            return Wire.Build(entry, static (w, e) => Wire.WriteState(w, e.Reason, e.Entitlements, legacyList: false));
        }
    }

    public List<CustomerEntryRef> Entries()
    {
        lock (_gate)
        {
            return [.. _entries.Keys
                .OrderBy(k => k.CustomerId, StringComparer.Ordinal)
                .ThenBy(k => k.ResourceId, StringComparer.Ordinal)
                .Select(k => new CustomerEntryRef(k.CustomerId, k.ResourceId))];
        }
    }

    // ---- Entries (callers hold the lock) ------------------------------------------------------------------------

    private Entry FindEntry(string customerId, string? resourceId)
    {
        var key = new CustomerKey(customerId, resourceId);
        if (_entries.TryGetValue(key, out var entry))
        {
            return entry;
        }

        if (resourceId is not null && _entries.ContainsKey(key.Global))
        {
            throw EmulatorException.NotFound("CustomerResourceNotFound", $"Resource '{resourceId}' of customer '{customerId}' not found.");
        }

        throw EmulatorException.NotFound("CustomerNotFound", $"Customer '{customerId}' not found.");
    }

    private void RollOverIfDue(Entry entry)
    {
        var now = Now;
        if (entry.NextRollover is { } due && due <= now && Periods.RollOver(entry.Entitlements, now))
        {
            entry.Invalidate();
        }
    }

    private static CustomerKey Validate(string customerId, string? resourceId)
    {
        if (string.IsNullOrEmpty(customerId))
        {
            throw EmulatorException.BadInput("customerId is required.");
        }

        return new CustomerKey(customerId, NullIfEmpty(resourceId));
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string Describe(CustomerKey key) =>
        key.ResourceId is null ? $"customer '{key.CustomerId}'" : $"customer '{key.CustomerId}' resource '{key.ResourceId}'";

    /// <summary>Gives every entitlement its <c>__typename</c> so the wire shape does not depend on guessing later.</summary>
    private static List<EntitlementDto> Normalize(List<EntitlementDto> entitlements)
    {
        var list = new List<EntitlementDto>(entitlements.Count);
        var index = 0;
        foreach (var e in entitlements)
        {
            index++;
            if (e.IsCredit)
            {
                if (e.Currency?.CurrencyId is not { Length: > 0 })
                {
                    throw EmulatorException.BadInput($"Entitlement #{index} is a credit entitlement without currency.currencyId.");
                }

                e.TypeName = EntitlementDto.CreditTypeName;
            }
            else
            {
                if (e.Feature?.RefId is not { Length: > 0 })
                {
                    throw EmulatorException.BadInput($"Entitlement #{index} has no feature.refId.");
                }

                e.TypeName = EntitlementDto.FeatureTypeName;
            }

            // The upstream always reports a number here; 0 until usage arrives.
            e.CurrentUsage ??= 0;
            list.Add(e);
        }

        return list;
    }

    /// <summary>One (customer, resource) entry; mutated only under the state lock.</summary>
    private sealed class Entry(CustomerKey key, string? reason, List<EntitlementDto> entitlements)
    {
        public CustomerKey Key { get; } = key;

        public string? Reason { get; } = reason;

        public List<EntitlementDto> Entitlements { get; } = entitlements;

        /// <summary>The serialized Edge body, rebuilt after a change.</summary>
        public byte[]? Envelope { get; set; }

        public long? NextRollover { get; private set; }

        public void Invalidate()
        {
            Envelope = null;
            NextRollover = Periods.NextRollover(Entitlements);
        }
    }
}
