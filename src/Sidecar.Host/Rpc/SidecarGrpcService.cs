using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Sidecar.Cache;
using Sidecar.Core;
using Sidecar.Core.Evaluation;
using Sidecar.Core.Model;
using Sidecar.Host.Diagnostics;
using Sidecar.Upstream.Outbox;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Rpc;

/// <summary>
/// The 12 RPCs of <c>stigg.sidecar.v1.SidecarService</c>. Reads answer synchronously from the hot tier when they can
/// (a completed task, no await) and go to the cache's miss path otherwise; reads never fail because of the upstream —
/// the answer is the cache or the fallback, with <c>is_fallback</c> saying which.
/// </summary>
internal sealed class SidecarGrpcService(
    TieredEntitlementCache cache,
    TieredCacheOptions cacheOptions,
    FallbackSet fallbacks,
    SidecarMetrics metrics,
    ILogger<SidecarGrpcService> logger,
    TimeProvider time)
{
    /// <summary>
    /// Of what is left until the caller's deadline, the answer keeps this share for itself: at least 10 ms (a timer
    /// firing late and the answer's way back on a loaded box), at most 50 ms (a long deadline need not wait for less).
    /// </summary>
    private const double DeadlineMargin = 0.1;

    private static readonly TimeSpan MinimumMargin = TimeSpan.FromMilliseconds(10);

    private static readonly TimeSpan MaximumMargin = TimeSpan.FromMilliseconds(50);

    private readonly FallbackSet _fallbacks = fallbacks;
    private readonly LogThrottle _usageFailureLogs = new(time, TimeSpan.FromSeconds(10));

    public Task<GetBooleanEntitlementResponse> GetBooleanEntitlement(GetBooleanEntitlementRequest request, ServerCallContext context)
    {
        var key = RequestValidation.FeatureCheck(request.CustomerId, request.HasResourceId, request.ResourceId, request.FeatureId);
        return Read(key, request, context, static (s, r, f, now) => EntitlementEvaluator.Boolean(s, r, f, now), static r => r.IsFallback, "GetBooleanEntitlement");
    }

    public Task<GetNumericEntitlementResponse> GetNumericEntitlement(GetNumericEntitlementRequest request, ServerCallContext context)
    {
        var key = RequestValidation.FeatureCheck(request.CustomerId, request.HasResourceId, request.ResourceId, request.FeatureId);
        return Read(key, request, context, static (s, r, f, now) => EntitlementEvaluator.Numeric(s, r, f, now), static r => r.IsFallback, "GetNumericEntitlement");
    }

    public Task<GetMeteredEntitlementResponse> GetMeteredEntitlement(GetMeteredEntitlementRequest request, ServerCallContext context)
    {
        var key = RequestValidation.FeatureCheck(request.CustomerId, request.HasResourceId, request.ResourceId, request.FeatureId);
        RequestValidation.RequestedUsage(request.Options?.HasRequestedUsage == true, request.Options?.RequestedUsage ?? 0);

        return Read(key, request, context, static (s, r, f, now) => EntitlementEvaluator.Metered(s, r, f, now), static r => r.IsFallback, "GetMeteredEntitlement");
    }

    public Task<GetEnumEntitlementResponse> GetEnumEntitlement(GetEnumEntitlementRequest request, ServerCallContext context)
    {
        var key = RequestValidation.FeatureCheck(request.CustomerId, request.HasResourceId, request.ResourceId, request.FeatureId);
        return Read(key, request, context, static (s, r, f, now) => EntitlementEvaluator.Enum(s, r, f, now), static r => r.IsFallback, "GetEnumEntitlement");
    }

    public Task<GetEntitlementResponse> GetEntitlement(GetEntitlementRequest request, ServerCallContext context)
    {
        var key = RequestValidation.FeatureCheck(request.CustomerId, request.HasResourceId, request.ResourceId, request.FeatureId);
        RequestValidation.RequestedUsage(request.Options?.HasRequestedUsage == true, request.Options?.RequestedUsage ?? 0);

        return Read(key, request, context, static (s, r, f, now) => EntitlementEvaluator.Entitlement(s, r, f, now), static r => r.IsFallback, "GetEntitlement");
    }

    public Task<GetEntitlementV2Response> GetEntitlementV2(GetEntitlementV2Request request, ServerCallContext context)
    {
        var key = RequestValidation.Key(request.CustomerId, request.HasResourceId, request.ResourceId);
        RequestValidation.Optional(request.FeatureId, "feature_id");
        RequestValidation.Optional(request.CurrencyId, "currency_id");
        RequestValidation.RequestedUsage(request.Options?.HasRequestedUsage == true, request.Options?.RequestedUsage ?? 0);

        return Read(key, request, context, static (s, r, f, now) => EntitlementEvaluator.EntitlementV2(s, r, f, now), static r => r.Entitlement?.IsFallback ?? false, "GetEntitlementV2");
    }

    public Task<GetEntitlementsResponse> GetEntitlements(GetEntitlementsRequest request, ServerCallContext context)
    {
        var key = RequestValidation.Key(request.CustomerId, request.HasResourceId, request.ResourceId);
        return Read(key, request, context, static (s, r, f, now) => EntitlementEvaluator.Entitlements(s, r, f, now), static _ => false, "GetEntitlements");
    }

    public Task<GetEntitlementsStateV2Response> GetEntitlementsStateV2(GetEntitlementsStateV2Request request, ServerCallContext context)
    {
        var key = RequestValidation.Key(request.CustomerId, request.HasResourceId, request.ResourceId);
        return Read(key, request, context, static (s, r, f, now) => EntitlementEvaluator.EntitlementsStateV2(s, r, f, now), static _ => false, "GetEntitlementsStateV2");
    }

    public async Task<ReloadEntitlementsResponse> ReloadEntitlements(ReloadEntitlementsRequest request, ServerCallContext context)
    {
        var key = RequestValidation.Key(request.CustomerId, request.HasResourceId, request.ResourceId);
        CustomerSnapshot? snapshot;
        try
        {
            snapshot = await cache.ReloadAsync(key, context.CancellationToken).ConfigureAwait(false);
        }
        catch (SourceUnavailableException ex)
        {
            // Never a false "does not exist" because the source is down: the cached truth, or say that it is down.
            snapshot = await cache.GetHeldAsync(key, context.CancellationToken).ConfigureAwait(false)
                ?? throw new RpcException(new Status(StatusCode.Unavailable, "entitlements could not be reloaded and none are cached: " + ex.Message));
        }

        return new ReloadEntitlementsResponse
        {
            EntitledEntityExists = snapshot is null ? cache.Source.EntityExistsWithoutData : EntitlementEvaluator.EntitledEntityExists(snapshot),
        };
    }

    public async Task<ReportUsageResponse> ReportUsage(ReportUsageRequest request, ServerCallContext context)
    {
        UsageMapping.Validate(request, string.Empty);
        var results = await ReportAsync([UsageMapping.ToReport(request)], context.CancellationToken).ConfigureAwait(false);
        return UsageMapping.ToResponse(results[0]);
    }

    public async Task<ReportUsageBulkResponse> ReportUsageBulk(ReportUsageBulkRequest request, ServerCallContext context)
    {
        if (request.Usages.Count == 0)
        {
            throw RequestValidation.Invalid("usages: must contain at least one usage report");
        }

        for (var i = 0; i < request.Usages.Count; i++)
        {
            UsageMapping.Validate(request.Usages[i], $"usages[{i}].");
        }

        var results = await ReportAsync([.. request.Usages.Select(UsageMapping.ToReport)], context.CancellationToken).ConfigureAwait(false);
        var response = new ReportUsageBulkResponse();
        response.Usages.AddRange(results.Select(UsageMapping.ToResponse));
        return response;
    }

    public async Task<Empty> ReportEvents(ReportEventsRequest request, ServerCallContext context)
    {
        if (request.Events.Count == 0)
        {
            throw RequestValidation.Invalid("events: must contain at least one event");
        }

        for (var i = 0; i < request.Events.Count; i++)
        {
            UsageMapping.Validate(request.Events[i], $"events[{i}].");
        }

        try
        {
            await cache.ReportEventsAsync([.. request.Events.Select(UsageMapping.ToRawEvent)], context.CancellationToken).ConfigureAwait(false);
        }
        catch (SourceUnavailableException ex)
        {
            throw NotAccepted(StatusCode.Unavailable, ex.Message);
        }
        catch (UsageOutboxFullException ex)
        {
            throw NotAccepted(StatusCode.ResourceExhausted, "usage was not accepted: " + ex.Message);
        }

        return new Empty();
    }

    private Task<TResponse> Read<TRequest, TResponse>(
        CustomerKey key,
        TRequest request,
        ServerCallContext context,
        Func<CustomerSnapshot?, TRequest, FallbackSet, long, TResponse> evaluate,
        Func<TResponse, bool> isFallback,
        string method)
    {
        var now = cache.NowMs;
        if (cache.TryGetServable(key, now, out var snapshot))
        {
            var response = evaluate(snapshot, request, _fallbacks, now);
            if (isFallback(response))
            {
                metrics.Fallback(method); // e.g. a feature of another type: answered from the fallback values
            }

            return Task.FromResult(response);
        }

        return ReadSlowAsync(key, request, context, evaluate, isFallback, method);
    }

    private async Task<TResponse> ReadSlowAsync<TRequest, TResponse>(
        CustomerKey key,
        TRequest request,
        ServerCallContext context,
        Func<CustomerSnapshot?, TRequest, FallbackSet, long, TResponse> evaluate,
        Func<TResponse, bool> isFallback,
        string method)
    {
        CustomerSnapshot? snapshot;
        try
        {
            snapshot = await cache.LoadAsync(key, MissWait(context.Deadline), context.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, "the caller cancelled the request"));
        }

        var response = evaluate(snapshot, request, _fallbacks, cache.NowMs);
        if (snapshot is null || isFallback(response))
        {
            metrics.Fallback(method);
        }

        return response;
    }

    private async Task<IReadOnlyList<UsageReportResult>> ReportAsync(IReadOnlyList<UsageReport> reports, CancellationToken cancellationToken)
    {
        try
        {
            return await cache.ReportUsageAsync(reports, cancellationToken).ConfigureAwait(false);
        }
        catch (SourceUnavailableException ex)
        {
            throw NotAccepted(StatusCode.Unavailable, ex.Message);
        }
        catch (UsageOutboxFullException ex)
        {
            throw NotAccepted(StatusCode.ResourceExhausted, "usage was not accepted: " + ex.Message);
        }
    }

    /// <summary>
    /// Usage that was not taken: the source cannot be reached (UNAVAILABLE), or the outbox is full (RESOURCE_EXHAUSTED:
    /// nothing was stored; the caller keeps the report and retries later). Logged at most every 10 s.
    /// </summary>
    private RpcException NotAccepted(StatusCode code, string message)
    {
        if (_usageFailureLogs.TryEnter(out var suppressed))
        {
            Log.UsageReportFailed(logger, message, suppressed);
        }

        return new RpcException(new Status(code, message));
    }

    /// <summary>
    /// How long a miss may take: what is left of the caller's deadline less a margin for the answer, or the miss
    /// budget when the caller set no deadline.
    /// </summary>
    private TimeSpan MissWait(DateTime deadline)
    {
        if (deadline == DateTime.MaxValue)
        {
            return cacheOptions.MissBudget;
        }

        // A deadline is a real instant, whatever clock the data runs on (tests pin the date).
        var remaining = deadline - TimeProvider.System.GetUtcNow().UtcDateTime;
        var margin = TimeSpan.FromTicks(Math.Clamp((long)(remaining.Ticks * DeadlineMargin), MinimumMargin.Ticks, MaximumMargin.Ticks));
        return remaining > margin ? remaining - margin : TimeSpan.Zero;
    }
}
