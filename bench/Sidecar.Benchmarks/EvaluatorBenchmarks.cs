using BenchmarkDotNet.Attributes;
using Sidecar.Core.Evaluation;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Benchmarks;

/// <summary>
/// <see cref="EntitlementEvaluator"/> per entitlement type on a snapshot mapped from the sample fixture (customer
/// <c>acme</c>). The <c>*ResponseOnly</c> baselines build the same response messages directly: the difference in
/// time and bytes is what evaluation adds on top of the answer itself (target: 0 B).
/// </summary>
[MemoryDiagnoser]
public class EvaluatorBenchmarks
{
    private CustomerSnapshot _acme = null!;
    private FeatureEntitlement _sso = null!;
    private FeatureEntitlement _apiCalls = null!;
    private GetBooleanEntitlementRequest _boolean = null!;
    private GetNumericEntitlementRequest _numeric = null!;
    private GetMeteredEntitlementRequest _metered = null!;
    private GetEnumEntitlementRequest _enum = null!;
    private GetEntitlementV2Request _v2Feature = null!;
    private GetEntitlementV2Request _v2Credit = null!;
    private GetEntitlementsStateV2Request _state = null!;
    private long _now;

    [GlobalSetup]
    public void Setup()
    {
        _acme = SampleData.Acme();
        _now = SampleData.NowMs;
        _acme.TryGetFeature("feature-sso", out _sso);
        _acme.TryGetFeature("feature-api-calls", out _apiCalls);
        _boolean = new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" };
        _numeric = new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" };
        _metered = new GetMeteredEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 10 },
        };
        _enum = new GetEnumEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-region",
            Options = new EnumEntitlementOptions { RequestedValues = { "eu-west-1" } },
        };
        _v2Feature = new GetEntitlementV2Request { CustomerId = "acme", FeatureId = "feature-api-calls" };
        _v2Credit = new GetEntitlementV2Request
        {
            CustomerId = "acme",
            CurrencyId = "ai-credits",
            Options = new GetEntitlementOptions { RequestedUsage = 5 },
        };
        _state = new GetEntitlementsStateV2Request { CustomerId = "acme" };

        // A benchmark of the wrong answer measures nothing: check the inputs hit what they should.
        if (!EntitlementEvaluator.Boolean(_acme, _boolean, FallbackSet.Empty, _now).HasAccess
            || !EntitlementEvaluator.Metered(_acme, _metered, FallbackSet.Empty, _now).HasAccess
            || EntitlementEvaluator.EntitlementV2(_acme, _v2Credit, FallbackSet.Empty, _now).Entitlement.Credit is null)
        {
            throw new InvalidOperationException("sample data does not evaluate as expected");
        }
    }

    [Benchmark(Baseline = true)]
    public GetBooleanEntitlementResponse BooleanResponseOnly() =>
        new() { HasAccess = true, Entitlement = ProtoMapping.Boolean(_sso) };

    [Benchmark]
    public GetBooleanEntitlementResponse Boolean() => EntitlementEvaluator.Boolean(_acme, _boolean, FallbackSet.Empty, _now);

    [Benchmark]
    public GetNumericEntitlementResponse Numeric() => EntitlementEvaluator.Numeric(_acme, _numeric, FallbackSet.Empty, _now);

    [Benchmark]
    public GetMeteredEntitlementResponse MeteredResponseOnly() => new()
    {
        HasAccess = true,
        RequestedUsage = 10,
        Entitlement = ProtoMapping.Metered(_apiCalls, UsagePeriod.Effective(_apiCalls, _now)),
    };

    [Benchmark]
    public GetMeteredEntitlementResponse Metered() => EntitlementEvaluator.Metered(_acme, _metered, FallbackSet.Empty, _now);

    [Benchmark]
    public GetEnumEntitlementResponse Enum() => EntitlementEvaluator.Enum(_acme, _enum, FallbackSet.Empty, _now);

    [Benchmark]
    public GetEntitlementV2Response EntitlementV2Feature() => EntitlementEvaluator.EntitlementV2(_acme, _v2Feature, FallbackSet.Empty, _now);

    [Benchmark]
    public GetEntitlementV2Response EntitlementV2Credit() => EntitlementEvaluator.EntitlementV2(_acme, _v2Credit, FallbackSet.Empty, _now);

    [Benchmark]
    public GetEntitlementsStateV2Response EntitlementsStateV2() => EntitlementEvaluator.EntitlementsStateV2(_acme, _state, FallbackSet.Empty, _now);
}
