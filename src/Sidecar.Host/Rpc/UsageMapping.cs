using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using ProtoBehavior = Stigg.Sidecar.V1.UsageUpdateBehavior;
using UsageUpdateBehavior = Sidecar.Core.Model.UsageUpdateBehavior;

namespace Sidecar.Host.Rpc;

/// <summary>ReportUsage / ReportEvents messages to the cache's usage model and back.</summary>
internal static class UsageMapping
{
    public static void Validate(ReportUsageRequest request, string prefix)
    {
        RequestValidation.Key(request.CustomerId, request.HasResourceId, request.ResourceId, prefix);
        RequestValidation.Required(request.FeatureId, prefix + "feature_id");
        RequestValidation.Finite(request.Value, prefix + "value");
        if (request.HasUpdateBehavior && !System.Enum.IsDefined(request.UpdateBehavior))
        {
            throw RequestValidation.Invalid($"{prefix}update_behavior: unknown value {(int)request.UpdateBehavior}");
        }

        RequestValidation.Timestamp(request.Timestamp, prefix + "timestamp");
        Dimensions(request.Dimensions, prefix + "dimensions");
    }

    public static void Validate(Event e, string prefix)
    {
        RequestValidation.Required(e.EventName, prefix + "event_name");
        RequestValidation.Key(e.CustomerId, e.HasResourceId, e.ResourceId, prefix);
        RequestValidation.Required(e.IdempotencyKey, prefix + "idempotency_key");
        RequestValidation.Timestamp(e.Timestamp, prefix + "timestamp");
        Dimensions(e.Dimensions, prefix + "dimensions");
    }

    public static UsageReport ToReport(ReportUsageRequest request) => new()
    {
        CustomerId = request.CustomerId,
        ResourceId = request.HasResourceId && request.ResourceId.Length > 0 ? request.ResourceId : null,
        FeatureId = request.FeatureId,
        Value = request.Value,
        UpdateBehavior = request.HasUpdateBehavior && request.UpdateBehavior == ProtoBehavior.Set ? UsageUpdateBehavior.Set : UsageUpdateBehavior.Delta,
        CreatedAt = request.Timestamp?.ToDateTimeOffset().ToUnixTimeMilliseconds(),
        Dimensions = ToDimensions(request.Dimensions),
    };

    public static RawEvent ToRawEvent(Event e) => new()
    {
        EventName = e.EventName,
        CustomerId = e.CustomerId,
        IdempotencyKey = e.IdempotencyKey,
        ResourceId = e.HasResourceId && e.ResourceId.Length > 0 ? e.ResourceId : null,
        Dimensions = ToDimensions(e.Dimensions),
        Timestamp = e.Timestamp?.ToDateTimeOffset().ToUnixTimeMilliseconds(),
    };

    public static ReportUsageResponse ToResponse(UsageReportResult result)
    {
        var response = new ReportUsageResponse
        {
            MeasurementId = result.MeasurementId,
            CustomerId = result.CustomerId,
            FeatureId = result.FeatureId,
        };
        if (result.ResourceId is not null)
        {
            response.ResourceId = result.ResourceId;
        }

        if (result.CurrentUsage is { } usage)
        {
            response.CurrentUsage = usage;
        }

        if (result.UsagePeriodStart is { } start)
        {
            response.UsagePeriodStart = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(start));
        }

        if (result.UsagePeriodEnd is { } end)
        {
            response.UsagePeriodEnd = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(end));
        }

        return response;
    }

    private static void Dimensions(MapField<string, EventDimensionValue> dimensions, string field)
    {
        foreach (var (name, value) in dimensions)
        {
            RequestValidation.Optional(name, $"{field}: key");
            if (value.ValueCase == EventDimensionValue.ValueOneofCase.NumberValue)
            {
                RequestValidation.Finite(value.NumberValue, $"{field}[{name}]");
            }
            else if (value.ValueCase == EventDimensionValue.ValueOneofCase.StringValue)
            {
                RequestValidation.Optional(value.StringValue, $"{field}[{name}]");
            }
        }
    }

    private static Dictionary<string, object?> ToDimensions(MapField<string, EventDimensionValue> dimensions)
    {
        var result = new Dictionary<string, object?>(dimensions.Count, StringComparer.Ordinal);
        foreach (var (name, value) in dimensions)
        {
            result[name] = value.ValueCase switch
            {
                EventDimensionValue.ValueOneofCase.StringValue => value.StringValue,
                EventDimensionValue.ValueOneofCase.NumberValue => value.NumberValue,
                EventDimensionValue.ValueOneofCase.BooleanValue => value.BooleanValue,
                _ => null,
            };
        }

        return result;
    }
}
