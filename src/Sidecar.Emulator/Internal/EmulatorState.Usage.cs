using Sidecar.Core.Json;
using Sidecar.Core.Model;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// Usage: the GraphQL <c>ReportUsage</c> mutations and the admin usage change, one engine behind both. A
/// credit-backed feature's usage also consumes its currency's credits; every change pushes <c>usageUpdatedV2</c>.
/// </summary>
internal sealed partial class EmulatorState
{
    private readonly BoundedMap<(string Customer, string Key), byte[]> _usageIdempotency = new(MaxIdempotencyKeys);

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

    /// <summary><c>ReportUsage</c>: the measurement JSON (a repeated idempotency key returns the first one).</summary>
    public byte[] ReportUsage(ReportUsageInput input)
    {
        lock (_gate)
        {
            if (ReplayOf(input) is { } replay)
            {
                return Replayed(replay);
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
                var earlier = replay ?? ReplayOf(input);
                results.Add(earlier is not null ? Replayed(earlier) : Commit(plan!.Value, input));
            }

            return results;
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

    /// <summary>Answers with the earlier measurement of the same key, counting the replay.</summary>
    private byte[] Replayed(byte[] measurement)
    {
        _counters.UsageMeasurementReplayed();
        return measurement;
    }

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

        _counters.UsageMeasurementApplied(input.IdempotencyKey);
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

    private static long Stamp(long now, long? previous) => previous is { } p && p >= now ? p + 1 : now;

    private static bool ParseBehavior(string? behavior) => behavior?.ToUpperInvariant() switch
    {
        null or "" or "DELTA" => false,
        "SET" => true,
        _ => throw EmulatorException.BadInput($"updateBehavior must be DELTA or SET, not '{behavior}'."),
    };

}
