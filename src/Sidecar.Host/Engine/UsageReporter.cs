using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Model;
using Sidecar.Host.Configuration;
using Sidecar.Host.Diagnostics;
using Sidecar.Host.Rpc;
using Sidecar.Upstream;
using Stigg.Sidecar.V1;
using ProtoBehavior = Stigg.Sidecar.V1.UsageUpdateBehavior;

namespace Sidecar.Host.Engine;

/// <summary>
/// ReportUsage / ReportUsageBulk / ReportEvents. With Stigg: the GraphQL API, then the server's absolute usage is
/// written into the cache (stigg-behaviour §8.2); failure is UNAVAILABLE with the reason. Offline: Stigg's fake
/// acknowledgement (§5.4). With a local entitlements file: usage is accounted locally (DELTA adds, SET replaces) so
/// checks reflect it until the file changes.
/// </summary>
internal sealed class UsageReporter(
    EntitlementStore store,
    StiggApiClient? client,
    SidecarSettings settings,
    ILogger<UsageReporter> logger)
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
    }

    public async Task<IReadOnlyList<ReportUsageResponse>> ReportAsync(IReadOnlyList<ReportUsageRequest> requests, CancellationToken cancellationToken)
    {
        switch (settings.Mode)
        {
            case SourceMode.Offline:
                return [.. requests.Select(OfflineAcknowledgement)];
            case SourceMode.File:
                var local = new List<ReportUsageResponse>(requests.Count);
                foreach (var request in requests)
                {
                    local.Add(await ApplyLocallyAsync(request, cancellationToken).ConfigureAwait(false));
                }

                return local;
        }

        IReadOnlyList<UsageReportResult> results;
        try
        {
            results = await client!.ReportUsageAsync([.. requests.Select(ToReport)], cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            Log.UsageReportFailed(logger, ex.Message);
            throw new RpcException(new Status(StatusCode.Unavailable, "usage could not be reported to Stigg: " + ex.Message));
        }

        var responses = new List<ReportUsageResponse>(results.Count);
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            var key = new CustomerKey(result.CustomerId, result.ResourceId);
            var now = store.NowMs;
            if (result.ToFeatureUpdate(now) is { } featureUpdate)
            {
                await store.ApplyUsageAsync(key, featureUpdate).ConfigureAwait(false);
            }

            if (result.Credit is { } credit)
            {
                await store.ApplyUsageAsync(key, credit.ToUpdate(result.Timestamp ?? now)).ConfigureAwait(false);
            }

            responses.Add(ToResponse(result));
        }

        return responses;
    }

    public async Task ReportEventsAsync(RepeatedField<Event> events, CancellationToken cancellationToken)
    {
        if (settings.Mode != SourceMode.Upstream)
        {
            return; // Offline and file modes have nowhere to aggregate raw events (Stigg's offline mode drops them too).
        }

        try
        {
            await client!.ReportEventsAsync([.. events.Select(ToRawEvent)], cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            Log.UsageReportFailed(logger, ex.Message);
            throw new RpcException(new Status(StatusCode.Unavailable, "events could not be reported to Stigg: " + ex.Message));
        }
    }

    private static ReportUsageResponse OfflineAcknowledgement(ReportUsageRequest request)
    {
        var response = new ReportUsageResponse
        {
            MeasurementId = SidecarGrpcService.NewMeasurementId(),
            CustomerId = request.CustomerId,
            FeatureId = request.FeatureId,
        };
        if (request.HasResourceId)
        {
            response.ResourceId = request.ResourceId;
        }

        return response;
    }

    private async Task<ReportUsageResponse> ApplyLocallyAsync(ReportUsageRequest request, CancellationToken cancellationToken)
    {
        var key = new CustomerKey(request.CustomerId, request.HasResourceId && request.ResourceId.Length > 0 ? request.ResourceId : null);
        var response = OfflineAcknowledgement(request);
        var snapshot = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (snapshot is null || !snapshot.TryGetFeature(request.FeatureId, out var feature))
        {
            return response;
        }

        var now = store.NowMs;
        var set = request.HasUpdateBehavior && request.UpdateBehavior == ProtoBehavior.Set;
        var current = set ? request.Value : feature.CurrentUsage + request.Value;
        await store.ApplyUsageAsync(key, new UsageUpdate(EntitlementRefType.Feature, feature.FeatureId, current,
            feature.UsagePeriodStart, feature.UsagePeriodEnd, Math.Max(now, feature.UsageUpdatedAt))).ConfigureAwait(false);
        response.CurrentUsage = current;
        SetPeriod(response, feature.UsagePeriodStart, feature.UsagePeriodEnd);
        return response;
    }

    private static UsageReport ToReport(ReportUsageRequest request) => new()
    {
        CustomerId = request.CustomerId,
        ResourceId = request.HasResourceId && request.ResourceId.Length > 0 ? request.ResourceId : null,
        FeatureId = request.FeatureId,
        Value = request.Value,
        UpdateBehavior = request.HasUpdateBehavior && request.UpdateBehavior == ProtoBehavior.Set ? Upstream.UsageUpdateBehavior.Set : Upstream.UsageUpdateBehavior.Delta,
        CreatedAt = request.Timestamp?.ToDateTimeOffset().ToUnixTimeMilliseconds(),
        Dimensions = ToDimensions(request.Dimensions),
    };

    private static RawEvent ToRawEvent(Event e) => new()
    {
        EventName = e.EventName,
        CustomerId = e.CustomerId,
        IdempotencyKey = e.IdempotencyKey,
        ResourceId = e.HasResourceId && e.ResourceId.Length > 0 ? e.ResourceId : null,
        Dimensions = ToDimensions(e.Dimensions),
        Timestamp = e.Timestamp?.ToDateTimeOffset().ToUnixTimeMilliseconds(),
    };

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

    private static ReportUsageResponse ToResponse(UsageReportResult result)
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

        SetPeriod(response, result.UsagePeriodStart, result.UsagePeriodEnd);
        return response;
    }

    private static void SetPeriod(ReportUsageResponse response, long? start, long? end)
    {
        if (start is { } s)
        {
            response.UsagePeriodStart = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(s));
        }

        if (end is { } e)
        {
            response.UsagePeriodEnd = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(e));
        }
    }
}
