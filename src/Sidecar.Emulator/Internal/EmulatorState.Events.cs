using System.Text.Json;
using Sidecar.Core.Model;

namespace Sidecar.Emulator.Internal;

/// <summary>Raw usage events (<c>ReportEvent</c>): recorded for the admin API and aggregated into usage.</summary>
internal sealed partial class EmulatorState
{
    private const int MaxRecordedEvents = 10_000;

    private readonly BoundedMap<(string Customer, string Key), bool> _eventIdempotency = new(MaxIdempotencyKeys);
    private readonly Queue<RecordedEvent> _events = new();

    /// <summary>The recorded events, oldest first (the last <see cref="MaxRecordedEvents"/>).</summary>
    public List<RecordedEvent> RecordedEvents()
    {
        lock (_gate)
        {
            return [.. _events];
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
}
