using System.Text.Json;
using Sidecar.Core.Json;
using Sidecar.Core.Model;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// The emulated environment: customers' entitlement states, usage, credit balances, recorded events and
/// idempotency keys. One lock guards every read and write (this is a test double of a remote service, not a hot
/// path); every change publishes its WebSocket event while the lock is held so events go out in state order.
/// </summary>
/// <remarks>
/// Timestamps the emulator stamps (<c>entitlementUpdatedAt</c> on replace, <c>usageUpdatedAt</c> on usage) are
/// strictly increasing per entitlement — now, or the previous value + 1 ms when the clock has not moved past it —
/// so a sidecar's timestamp guard (DESIGN decision 2) never drops a change the emulator made.
/// </remarks>
internal sealed class EmulatorState
{
    public const string AccountId = "emulator-account";
    public const string EnvironmentId = "emulator-environment";
    private const int MaxIdempotencyKeys = 100_000;
    private const int MaxRecordedEvents = 10_000;

    private static readonly byte[] CustomerNotFoundEnvelope = Wire.EntitlementsEnvelope("CustomerNotFound", []);
    private static readonly byte[] ResourceNotFoundEnvelope = Wire.EntitlementsEnvelope("CustomerResourceNotFound", []);

    private readonly Lock _gate = new();
    private readonly Dictionary<CustomerKey, Entry> _entries = [];
    private readonly Dictionary<string, int> _packageVersions = new(StringComparer.Ordinal);
    private readonly BoundedMap<(string Customer, string Key), byte[]> _usageIdempotency = new(MaxIdempotencyKeys);
    private readonly BoundedMap<(string Customer, string Key), bool> _eventIdempotency = new(MaxIdempotencyKeys);
    private readonly Queue<RecordedEvent> _events = new();
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

    public List<RecordedEvent> RecordedEvents()
    {
        lock (_gate)
        {
            return [.. _events];
        }
    }

    // ---- Admin changes -----------------------------------------------------------------------------------------

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

    /// <summary>An admin usage change on a feature or a credit balance; pushes <c>usageUpdatedV2</c>.</summary>
    public UsageChange AdminUsage(AdminUsageRequest request)
    {
        var customerId = request.CustomerId is { Length: > 0 } c ? c : throw EmulatorException.BadInput("customerId is required.");
        var value = request.Value ?? throw EmulatorException.BadInput("value is required.");
        var set = ParseBehavior(request.UpdateBehavior);
        var hasFeature = request.FeatureId is { Length: > 0 };
        var hasCurrency = request.CurrencyId is { Length: > 0 };
        if (hasFeature == hasCurrency)
        {
            throw EmulatorException.BadInput("Give exactly one of featureId and currencyId.");
        }

        lock (_gate)
        {
            var entry = FindEntry(customerId, NullIfEmpty(request.ResourceId));
            if (hasFeature)
            {
                var plan = PlanFeatureUsage(entry, request.FeatureId!, value, set);
                return ApplyFeatureUsage(plan).Feature;
            }

            var credit = FindCredit(entry, request.CurrencyId!)
                ?? throw EmulatorException.NotFound("CurrencyNotFound", $"Customer '{customerId}' has no credit grant in currency '{request.CurrencyId}'.");
            var consumed = set ? value - (credit.Dto.CurrentUsage ?? 0) : value;
            return ApplyCredit(credit, consumed);
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

    // ---- GraphQL mutations -------------------------------------------------------------------------------------

    /// <summary><c>ReportUsage</c>: the measurement JSON (a repeated idempotency key returns the first one).</summary>
    public byte[] ReportUsage(ReportUsageInput input)
    {
        lock (_gate)
        {
            if (ReplayOf(input) is { } replay)
            {
                return replay;
            }

            return Commit(Plan(input), input);
        }
    }

    /// <summary><c>ReportUsageBulk</c>: every item is validated before any is applied (all or nothing).</summary>
    public List<byte[]> ReportUsageBulk(IReadOnlyList<ReportUsageInput> inputs)
    {
        lock (_gate)
        {
            var plans = new List<(ReportUsageInput Input, FeatureUsagePlan? Plan, byte[]? Replay)>(inputs.Count);
            foreach (var input in inputs)
            {
                var replay = ReplayOf(input);
                plans.Add((input, replay is null ? Plan(input) : null, replay));
            }

            var results = new List<byte[]>(inputs.Count);
            foreach (var (input, plan, replay) in plans)
            {
                // A key repeated inside one batch is answered by its first occurrence.
                results.Add(replay ?? ReplayOf(input) ?? Commit(plan!.Value, input));
            }

            return results;
        }
    }

    /// <summary>
    /// <c>ReportEvent</c>: records raw events (idempotent by customer + key). Aggregation rule: an event whose
    /// <c>eventName</c> equals the id of a metered (or credit-backed) feature of that customer entry adds 1 to the
    /// feature's usage, as a DELTA report of 1 would.
    /// </summary>
    public void ReportEvents(IReadOnlyList<UsageEventInput> events)
    {
        var checkedEvents = new List<(UsageEventInput Input, string Name, string Customer, string Key)>(events.Count);
        var index = 0;
        foreach (var e in events)
        {
            index++;
            var name = e.EventName is { Length: > 0 } n ? n : throw EmulatorException.BadInput($"usageEvents[{index - 1}].eventName is required.");
            var customer = e.CustomerId is { Length: > 0 } c ? c : throw EmulatorException.BadInput($"usageEvents[{index - 1}].customerId is required.");
            var key = e.IdempotencyKey is { Length: > 0 } k ? k : throw EmulatorException.BadInput($"usageEvents[{index - 1}].idempotencyKey is required.");
            checkedEvents.Add((e, name, customer, key));
        }

        lock (_gate)
        {
            foreach (var (input, name, customer, key) in checkedEvents)
            {
                if (_eventIdempotency.ContainsKey((customer, key)))
                {
                    continue;
                }

                _eventIdempotency.Add((customer, key), true);
                var resourceId = NullIfEmpty(input.ResourceId);
                var aggregated = false;
                if (_entries.TryGetValue(new CustomerKey(customer, resourceId), out var entry)
                    && FindFeature(entry, name) is { } feature
                    && IsUsageReportable(feature)
                    && TryPlanCredit(entry, feature, out var credit))
                {
                    RollOverIfDue(entry);
                    ApplyFeatureUsage(new FeatureUsagePlan(entry, feature, 1, Set: false, credit));
                    aggregated = true;
                }

                _events.Enqueue(new RecordedEvent
                {
                    EventName = name,
                    CustomerId = customer,
                    ResourceId = resourceId,
                    IdempotencyKey = key,
                    Dimensions = input.Dimensions?.Clone(),
                    Timestamp = input.Timestamp is { ValueKind: JsonValueKind.String } t ? t.GetString() : input.Timestamp?.GetRawText(),
                    ReceivedAt = _time.GetUtcNow(),
                    Aggregated = aggregated,
                });
                if (_events.Count > MaxRecordedEvents)
                {
                    _events.Dequeue();
                }

                _counters.EventRecorded();
            }
        }
    }

    // ---- Usage engine (callers hold the lock) ------------------------------------------------------------------

    private readonly record struct CreditTarget(Entry Entry, EntitlementDto Dto);

    private readonly record struct FeatureUsagePlan(Entry Entry, EntitlementDto Feature, double Value, bool Set, CreditTarget? Credit);

    private readonly record struct FeatureUsageResult(UsageChange Feature, UsageChange? Credit);

    private byte[]? ReplayOf(ReportUsageInput input) =>
        input.IdempotencyKey is { Length: > 0 } key && input.CustomerId is { } customer
            && _usageIdempotency.TryGetValue((customer, key), out var stored)
            ? stored
            : null;

    private FeatureUsagePlan Plan(ReportUsageInput input)
    {
        var customerId = input.CustomerId is { Length: > 0 } c ? c : throw EmulatorException.BadInput("customerId is required.");
        var featureId = input.FeatureId is { Length: > 0 } f ? f : throw EmulatorException.BadInput("featureId is required.");
        var value = input.Value ?? throw EmulatorException.BadInput("value is required.");
        var set = ParseBehavior(input.UpdateBehavior);
        var entry = FindEntry(customerId, NullIfEmpty(input.ResourceId));
        return PlanFeatureUsage(entry, featureId, value, set);
    }

    private FeatureUsagePlan PlanFeatureUsage(Entry entry, string featureId, double value, bool set)
    {
        if (!double.IsFinite(value))
        {
            throw EmulatorException.BadInput("value must be a finite number.");
        }

        var feature = FindFeature(entry, featureId)
            ?? throw EmulatorException.NotFound("FeatureNotFound", $"Feature '{featureId}' is not in the entitlements of {Describe(entry.Key)}.");
        if (!IsUsageReportable(feature))
        {
            throw EmulatorException.BadInput($"Feature '{featureId}' is not metered: usage can only be reported for metered or credit-backed features.");
        }

        if (!TryPlanCredit(entry, feature, out var credit))
        {
            throw EmulatorException.NotFound(
                "CurrencyNotFound",
                $"Feature '{featureId}' draws credits in '{feature.CreditRate!.CurrencyId}', which {Describe(entry.Key)} has no grant in.");
        }

        RollOverIfDue(entry);
        return new FeatureUsagePlan(entry, feature, value, set, credit);
    }

    private bool TryPlanCredit(Entry entry, EntitlementDto feature, out CreditTarget? credit)
    {
        credit = null;
        if (feature.CreditRate?.CurrencyId is not { Length: > 0 } currencyId)
        {
            return true;
        }

        credit = FindCredit(entry, currencyId);
        return credit is not null;
    }

    private byte[] Commit(FeatureUsagePlan plan, ReportUsageInput input)
    {
        var result = ApplyFeatureUsage(plan);
        var measurement = Wire.Build((result, plan.Feature), static (w, s) =>
        {
            var f = s.result.Feature;
            w.WriteStartObject();
            w.WriteString("__typename", "UsageMeasurementWithCurrentUsage");
            w.WriteString("id", Guid.CreateVersion7(DateTimeOffset.FromUnixTimeMilliseconds(f.UsageUpdatedAt)).ToString());
            w.WriteString("featureId", f.Id);
            w.WriteString("customerId", f.CustomerId);
            w.WriteString("resourceId", f.ResourceId);
            w.WriteNumber("currentUsage", f.CurrentUsage);
            Wire.WriteInstant(w, "usagePeriodStart", f.UsagePeriodStart);
            Wire.WriteInstant(w, "usagePeriodEnd", f.UsagePeriodEnd);

            // nextResetDate is a Float (epoch ms) in Stigg's schema, unlike the DateTime period fields.
            if (f.UsagePeriodEnd is { } end)
            {
                w.WriteNumber("nextResetDate", end);
            }
            else
            {
                w.WriteNull("nextResetDate");
            }

            Wire.WriteInstant(w, "timestamp", f.UsageUpdatedAt);
            w.WritePropertyName("credit");
            if (s.result.Credit is { } c)
            {
                w.WriteStartObject();
                w.WriteString("currencyId", c.Id);
                w.WriteNumber("currentUsage", c.CurrentUsage);
                Wire.WriteInstant(w, "timestamp", c.UsageUpdatedAt);
                Wire.WriteInstant(w, "usagePeriodEnd", c.UsagePeriodEnd);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNullValue();
            }

            w.WriteEndObject();
        });

        if (input.IdempotencyKey is { Length: > 0 } key)
        {
            _usageIdempotency.Add((input.CustomerId!, key), measurement);
        }

        return measurement;
    }

    private FeatureUsageResult ApplyFeatureUsage(FeatureUsagePlan plan)
    {
        var now = Now;
        var feature = plan.Feature;
        var before = feature.CurrentUsage ?? 0;
        var after = plan.Set ? plan.Value : before + plan.Value;
        feature.CurrentUsage = after;
        feature.UsageUpdatedAt = Stamp(now, feature.UsageUpdatedAt);
        plan.Entry.Invalidate();

        var change = new UsageChange(
            plan.Entry.Key.CustomerId,
            plan.Entry.Key.ResourceId,
            EntitlementRefType.Feature,
            feature.Feature!.RefId!,
            after,
            feature.UsageUpdatedAt.Value,
            feature.UsagePeriodStart,
            feature.UsagePeriodEnd);
        _counters.UsageChanged();
        _hub.Publish(SubscriptionKind.UsageUpdated, Wire.UsageUpdatedData(change));

        // A credit-backed feature draws (usage delta x rate) credits from its currency's balance.
        UsageChange? creditChange = null;
        if (plan.Credit is { } credit && feature.CreditRate is { } rate)
        {
            creditChange = ApplyCredit(credit, (after - before) * rate.Amount);
        }

        return new FeatureUsageResult(change, creditChange);
    }

    private UsageChange ApplyCredit(CreditTarget credit, double consumed)
    {
        var dto = credit.Dto;
        dto.CurrentUsage = (dto.CurrentUsage ?? 0) + consumed;
        dto.UsageUpdatedAt = Stamp(Now, dto.UsageUpdatedAt);
        credit.Entry.Invalidate();

        var change = new UsageChange(
            credit.Entry.Key.CustomerId,
            credit.Entry.Key.ResourceId,
            EntitlementRefType.Credit,
            dto.Currency!.CurrencyId!,
            dto.CurrentUsage.Value,
            dto.UsageUpdatedAt.Value,
            null,
            dto.UsagePeriodEnd);
        _counters.UsageChanged();
        _hub.Publish(SubscriptionKind.UsageUpdated, Wire.UsageUpdatedData(change));
        return change;
    }

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

    private static EntitlementDto? FindFeature(Entry entry, string featureId)
    {
        foreach (var e in entry.Entitlements)
        {
            if (!e.IsCredit && string.Equals(e.Feature?.RefId, featureId, StringComparison.Ordinal))
            {
                return e;
            }
        }

        return null;
    }

    /// <summary>The credit balance in a currency: on the entry itself, else on its customer-level entry.</summary>
    private CreditTarget? FindCredit(Entry entry, string currencyId)
    {
        if (FindCreditIn(entry, currencyId) is { } own)
        {
            return new CreditTarget(entry, own);
        }

        if (entry.Key.ResourceId is not null && _entries.TryGetValue(entry.Key.Global, out var global) && FindCreditIn(global, currencyId) is { } shared)
        {
            return new CreditTarget(global, shared);
        }

        return null;
    }

    private static EntitlementDto? FindCreditIn(Entry entry, string currencyId)
    {
        foreach (var e in entry.Entitlements)
        {
            if (e.IsCredit && string.Equals(e.Currency?.CurrencyId, currencyId, StringComparison.Ordinal))
            {
                return e;
            }
        }

        return null;
    }

    private static bool IsUsageReportable(EntitlementDto feature)
    {
        var metered = string.Equals(feature.Feature?.FeatureType, "NUMBER", StringComparison.OrdinalIgnoreCase)
            && (string.Equals(feature.Feature?.MeterType, "Incremental", StringComparison.OrdinalIgnoreCase)
                || string.Equals(feature.Feature?.MeterType, "Fluctuating", StringComparison.OrdinalIgnoreCase));
        return metered || feature.CreditRate?.CurrencyId is { Length: > 0 };
    }

    private void RollOverIfDue(Entry entry)
    {
        var now = Now;
        if (entry.NextRollover is { } due && due <= now && Periods.RollOver(entry.Entitlements, now))
        {
            entry.Invalidate();
        }
    }

    private static long Stamp(long now, long? previous) => previous is { } p && p >= now ? p + 1 : now;

    private static bool ParseBehavior(string? behavior) => behavior?.ToUpperInvariant() switch
    {
        null or "" or "DELTA" => false,
        "SET" => true,
        _ => throw EmulatorException.BadInput($"updateBehavior must be DELTA or SET, not '{behavior}'."),
    };

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

    /// <summary>A dictionary that forgets its oldest keys past a capacity (idempotency keys are not kept forever).</summary>
    private sealed class BoundedMap<TKey, TValue>(int capacity)
        where TKey : notnull
    {
        private readonly Dictionary<TKey, TValue> _map = [];
        private readonly Queue<TKey> _order = new();

        public bool ContainsKey(TKey key) => _map.ContainsKey(key);

        public bool TryGetValue(TKey key, out TValue value) => _map.TryGetValue(key, out value!);

        public void Add(TKey key, TValue value)
        {
            if (!_map.TryAdd(key, value))
            {
                return;
            }

            _order.Enqueue(key);
            if (_order.Count > capacity)
            {
                _map.Remove(_order.Dequeue());
            }
        }
    }
}
