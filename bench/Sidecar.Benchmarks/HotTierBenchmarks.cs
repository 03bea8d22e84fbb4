using BenchmarkDotNet.Attributes;
using Sidecar.Cache.Hot;
using Sidecar.Core.Evaluation;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Benchmarks;

/// <summary>
/// <see cref="HotTier.TryGet"/> as the tier grows: 1k, 100k and 1M customers, each lookup a different customer drawn
/// at random (so large tiers pay their cache misses, as a real customer mix does). Per-customer snapshots are small
/// here (one feature): the lookup cost does not depend on what the snapshot holds.
/// </summary>
[MemoryDiagnoser]
public class HotTierBenchmarks
{
    private const int Lookups = 1024;

    private HotTier _tier = null!;
    private CustomerKey[] _keys = null!;

    [Params(1_000, 100_000, 1_000_000)]
    public int Customers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _tier = new HotTier(long.MaxValue);
        var state = new EntitlementsStateDto
        {
            EntitlementsV2 =
            [
                new EntitlementDto
                {
                    TypeName = EntitlementDto.FeatureTypeName,
                    EntitlementUpdatedAt = SampleData.NowMs,
                    Feature = new FeatureDto { RefId = "feature-sso", FeatureType = "BOOLEAN" },
                },
            ],
        };
        for (var i = 0; i < Customers; i++)
        {
            _tier.Set(SampleData.SnapshotAs(SampleData.CustomerId(i), state));
        }

        // Keys are fresh instances (as the gRPC layer builds them from the request), not the stored ones.
        var random = new Random(7);
        _keys = new CustomerKey[Lookups];
        for (var i = 0; i < Lookups; i++)
        {
            _keys[i] = new CustomerKey(new string(SampleData.CustomerId(random.Next(Customers)).AsSpan()), null);
        }
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int TryGet()
    {
        var found = 0;
        var keys = _keys;
        for (var i = 0; i < keys.Length; i++)
        {
            if (_tier.TryGet(keys[i], out _))
            {
                found++;
            }
        }

        return found;
    }
}

/// <summary>
/// The whole in-process hit: build the key from the request, hot-tier lookup, evaluate, in a tier of 10k customers on
/// the sample's full plan (7 entitlements of every type). Target: at most 100 ns and no bytes beyond the response.
/// </summary>
[MemoryDiagnoser]
public class HitPathBenchmarks
{
    private const int Customers = 10_000;
    private const int Lookups = 1024;

    private HotTier _tier = null!;
    private GetBooleanEntitlementRequest _one = null!;
    private GetBooleanEntitlementRequest[] _spread = null!;
    private GetMeteredEntitlementRequest _metered = null!;
    private FeatureEntitlement _sso = null!;
    private long _now;

    [GlobalSetup]
    public void Setup()
    {
        _now = SampleData.NowMs;
        _tier = new HotTier(long.MaxValue);
        var plan = SampleData.State("acme");
        for (var i = 0; i < Customers; i++)
        {
            _tier.Set(SampleData.SnapshotAs(SampleData.CustomerId(i), plan));
        }

        _one = new GetBooleanEntitlementRequest { CustomerId = SampleData.CustomerId(4242), FeatureId = "feature-sso" };
        _metered = new GetMeteredEntitlementRequest
        {
            CustomerId = SampleData.CustomerId(4242),
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 1 },
        };
        var random = new Random(11);
        _spread = new GetBooleanEntitlementRequest[Lookups];
        for (var i = 0; i < Lookups; i++)
        {
            _spread[i] = new GetBooleanEntitlementRequest { CustomerId = SampleData.CustomerId(random.Next(Customers)), FeatureId = "feature-sso" };
        }

        _tier.TryGet(new CustomerKey(_one.CustomerId, null), out var held);
        held.TryGetFeature("feature-sso", out _sso);
        if (!HitBoolean(_one).HasAccess)
        {
            throw new InvalidOperationException("the hit path does not answer from the tier");
        }
    }

    /// <summary>The answer alone (the messages a hit must allocate): the floor for time and bytes.</summary>
    [Benchmark(Baseline = true)]
    public GetBooleanEntitlementResponse BooleanResponseOnly() =>
        new() { HasAccess = true, Entitlement = ProtoMapping.Boolean(_sso) };

    [Benchmark]
    public GetBooleanEntitlementResponse HitAndEvaluateBoolean() => HitBoolean(_one);

    [Benchmark]
    public GetMeteredEntitlementResponse HitAndEvaluateMetered()
    {
        _tier.TryGet(new CustomerKey(_metered.CustomerId, null), out var snapshot);
        return EntitlementEvaluator.Metered(snapshot, _metered, FallbackSet.Empty, _now);
    }

    /// <summary>Many customers in turn (cold CPU caches for each); time and bytes are per check.</summary>
    [Benchmark(OperationsPerInvoke = Lookups)]
    public int HitAndEvaluateBooleanSpread()
    {
        var granted = 0;
        var requests = _spread;
        for (var i = 0; i < requests.Length; i++)
        {
            if (HitBoolean(requests[i]).HasAccess)
            {
                granted++;
            }
        }

        return granted;
    }

    private GetBooleanEntitlementResponse HitBoolean(GetBooleanEntitlementRequest request)
    {
        var snapshot = _tier.TryGet(new CustomerKey(request.CustomerId, null), out var held) ? held : null;
        return EntitlementEvaluator.Boolean(snapshot, request, FallbackSet.Empty, _now);
    }
}
