using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Evaluation;
using Sidecar.Core.Model;
using Sidecar.Host.Configuration;
using Sidecar.Host.Diagnostics;
using Sidecar.Host.Engine;
using Sidecar.Upstream;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Rpc;

/// <summary>
/// The 12 RPCs of <c>stigg.sidecar.v1.SidecarService</c>. Reads answer synchronously from the hot tier when they can
/// (a completed task, no await) and go to the store's miss path otherwise; reads never fail because of the upstream —
/// the answer is the cache or the fallback, with <c>is_fallback</c> saying which.
/// </summary>
internal sealed class SidecarGrpcService(
    EntitlementStore store,
    UsageReporter usage,
    SidecarSettings settings,
    SidecarMetrics metrics)
{
    private readonly FallbackSet _fallbacks = settings.Fallbacks;
    private readonly bool _offline = settings.Mode == SourceMode.Offline;

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
        if (_offline)
        {
            return new ReloadEntitlementsResponse { EntitledEntityExists = true };
        }

        var snapshot = await store.ReloadAsync(key, context.CancellationToken).ConfigureAwait(false);
        return new ReloadEntitlementsResponse { EntitledEntityExists = EntitlementEvaluator.EntitledEntityExists(snapshot) };
    }

    public async Task<ReportUsageResponse> ReportUsage(ReportUsageRequest request, ServerCallContext context)
    {
        UsageReporter.Validate(request, string.Empty);
        var results = await usage.ReportAsync([request], context.CancellationToken).ConfigureAwait(false);
        return results[0];
    }

    public async Task<ReportUsageBulkResponse> ReportUsageBulk(ReportUsageBulkRequest request, ServerCallContext context)
    {
        if (request.Usages.Count == 0)
        {
            throw RequestValidation.Invalid("usages: must contain at least one usage report");
        }

        for (var i = 0; i < request.Usages.Count; i++)
        {
            UsageReporter.Validate(request.Usages[i], $"usages[{i}].");
        }

        var results = await usage.ReportAsync(request.Usages, context.CancellationToken).ConfigureAwait(false);
        var response = new ReportUsageBulkResponse();
        response.Usages.AddRange(results);
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
            var e = request.Events[i];
            RequestValidation.Required(e.EventName, $"events[{i}].event_name");
            RequestValidation.Key(e.CustomerId, e.HasResourceId, e.ResourceId, $"events[{i}].");
            RequestValidation.Required(e.IdempotencyKey, $"events[{i}].idempotency_key");
        }

        await usage.ReportEventsAsync(request.Events, context.CancellationToken).ConfigureAwait(false);
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
        var now = store.NowMs;
        if (_offline)
        {
            metrics.Fallback(method);
            return Task.FromResult(evaluate(null, request, _fallbacks, now));
        }

        if (store.TryGetServable(key, now, out var snapshot))
        {
            metrics.CacheHit();
            return Task.FromResult(evaluate(snapshot, request, _fallbacks, now));
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
            snapshot = await store.GetAsync(key, context.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, "the caller cancelled the request"));
        }

        var response = evaluate(snapshot, request, _fallbacks, store.NowMs);
        if (snapshot is null || isFallback(response))
        {
            metrics.Fallback(method);
        }

        return response;
    }

    /// <summary>Stigg's offline acknowledgement id: a random 21-character URL-safe id (nanoid alphabet).</summary>
    internal static string NewMeasurementId()
    {
        const string Alphabet = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";
        Span<byte> random = stackalloc byte[21];
        RandomNumberGenerator.Fill(random);
        return string.Create(21, random.ToArray(), static (chars, bytes) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = Alphabet[bytes[i] & 63];
            }
        });
    }
}
