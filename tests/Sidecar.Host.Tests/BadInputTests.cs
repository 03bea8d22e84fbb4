using Grpc.Core;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>Bad requests become INVALID_ARGUMENT naming the field, never a crash or INTERNAL (DESIGN decision 7).</summary>
public sealed class BadInputTests(SampleFileSidecar fixture) : IClassFixture<SampleFileSidecar>
{
    private SidecarService.SidecarServiceClient Client => fixture.Host.Client;

    [Fact]
    public async Task GetBooleanEntitlement_EmptyCustomerId_InvalidArgumentNamingField()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { FeatureId = "feature-sso" }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("customer_id:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetMeteredEntitlement_EmptyFeatureId_InvalidArgumentNamingField()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "acme" }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("feature_id:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetEntitlements_OversizedCustomerId_InvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.GetEntitlementsAsync(new GetEntitlementsRequest { CustomerId = new string('x', 5000) }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("customer_id", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetEnumEntitlement_OversizedResourceId_InvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.GetEnumEntitlementAsync(new GetEnumEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-region",
            ResourceId = new string('r', 2000),
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("resource_id:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReportUsageBulk_SecondItemMissingFeature_NamesTheItem()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.ReportUsageBulkAsync(new ReportUsageBulkRequest
        {
            Usages =
            {
                new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 },
                new ReportUsageRequest { CustomerId = "acme", Value = 1 },
            },
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("usages[1].feature_id:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReportUsage_NaNValue_InvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.ReportUsageAsync(new ReportUsageRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Value = double.NaN,
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("value:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReportEvents_MissingIdempotencyKey_InvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.ReportEventsAsync(new ReportEventsRequest
        {
            Events = { new Event { EventName = "e", CustomerId = "acme" } },
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("events[0].idempotency_key:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnyRpc_UndecodableProtobuf_InvalidArgument()
    {
        // A raw-bytes method on the real path: field 1 declared as a 200-byte string with only 3 bytes behind it.
        var method = new Method<byte[], byte[]>(MethodType.Unary, "stigg.sidecar.v1.SidecarService", "GetBooleanEntitlement",
            Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        var invoker = fixture.Host.Channel.CreateCallInvoker();

        var ex = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(method, null, default, [0x0A, 0xC8, 0x01, 0x61, 0x62, 0x63]).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("request:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterBadInput_TheServerStillAnswers()
    {
        await Assert.ThrowsAsync<RpcException>(() => Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest()).ResponseAsync);

        var ok = await Client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });

        Assert.True(ok.HasAccess);
    }

    public static TheoryData<string, long, int> BadTimestamps => new()
    {
        { "seconds beyond year 9999", 253_402_300_800, 0 },
        { "seconds before year 1", -62_135_596_801, 0 },
        { "negative nanos", 1_700_000_000, -1 },
        { "nanos of a whole second", 1_700_000_000, 1_000_000_000 },
    };

    [Theory]
    [MemberData(nameof(BadTimestamps))]
    public async Task ReportUsage_TimestampOutOfRange_InvalidArgumentNamingField(string why, long seconds, int nanos)
    {
        var request = new ReportUsageRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Value = 1,
            Timestamp = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = seconds, Nanos = nanos },
        };

        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.ReportUsageAsync(request).ResponseAsync);

        Assert.True(ex.StatusCode == StatusCode.InvalidArgument, why);
        Assert.StartsWith("timestamp:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReportEvents_TimestampOutOfRange_InvalidArgumentNamingField()
    {
        var request = new ReportEventsRequest();
        request.Events.Add(new Event { EventName = "e", CustomerId = "acme", IdempotencyKey = "k", Timestamp = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = long.MaxValue } });

        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.ReportEventsAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("events[0].timestamp:", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public async Task ReportUsageBulk_NonFiniteDimension_InvalidArgumentNamingField(double value)
    {
        var usage = new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 };
        usage.Dimensions.Add("region", new EventDimensionValue { NumberValue = value });
        var request = new ReportUsageBulkRequest();
        request.Usages.Add(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 });
        request.Usages.Add(usage);

        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.ReportUsageBulkAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("usages[1].dimensions[region]:", ex.Status.Detail, StringComparison.Ordinal);
    }
}
