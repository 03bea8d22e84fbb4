using System.Net;
using System.Text.Json;

namespace Sidecar.Emulator.Tests;

/// <summary>Connection-level faults (refuse, blackHole, dropAfterApply) and idempotent usage reports.</summary>
public sealed class ConnectionFaultTests : EmulatorTest
{
    private const string UsageInput = """{"customerId":"acme","featureId":"feature-api-calls","value":1,"idempotencyKey":"key-1"}""";

    [Fact]
    public async Task Faults_RefuseOnEdge_AbortsTheConnectionBeforeAnyResponse()
    {
        Server.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.Refuse, FailCount = 1 });

        await Assert.ThrowsAsync<HttpRequestException>(() => EdgeAsync("/v1/c/acme/entitlements-state.json"));

        using var next = await EdgeAsync("/v1/c/acme/entitlements-state.json");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var counters = Server.Counters;
        Assert.Equal(2, counters.EdgeRequests);
        Assert.Equal(1, counters.FaultsInjected);
    }

    [Fact]
    public async Task Faults_BlackHoleOnGraphQl_HoldsTheRequestUnansweredAndAppliesNothing()
    {
        var before = CurrentUsage();
        Server.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.BlackHole });

        var held = GraphQlRawAsync(GraphQlBody("ReportUsage", ReportUsageMutation, $$"""{"input":{{UsageInput}}}"""));
        await Server.WaitForCountersAsync(c => c.FaultsInjected == 1, Timeout());
        Assert.False(held.IsCompleted);

        Server.ClearFaults();

        await Assert.ThrowsAsync<HttpRequestException>(() => held.WaitAsync(Patience));
        Assert.Equal(before, CurrentUsage());
        Assert.Equal(0, Server.Counters.UsageMeasurementsApplied);
    }

    [Fact]
    public async Task Faults_BlackHole_EndsWhenTheClientGivesUp()
    {
        Server.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.BlackHole });
        using var cts = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/c/acme/entitlements-state.json");
        request.Headers.Add("X-API-KEY", Key);

        var held = Http.SendAsync(request, cts.Token);
        await Server.WaitForCountersAsync(c => c.EdgeRequests == 1, Timeout());
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held);
        Server.ClearFaults();
        using var next = await EdgeAsync("/v1/c/acme/entitlements-state.json");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Faults_DropAfterApply_AppliesTheMutationAndLosesTheReply()
    {
        var before = CurrentUsage();
        Server.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.DropAfterApply, FailCount = 1 });

        await Assert.ThrowsAsync<HttpRequestException>(
            () => GraphQlRawAsync(GraphQlBody("ReportUsage", ReportUsageMutation, $$"""{"input":{{UsageInput}}}""")));

        Assert.Equal(before + 1, CurrentUsage());
        var counters = Server.Counters;
        Assert.Equal(1, counters.UsageMeasurementsApplied);
        Assert.Equal(1, counters.FaultsInjected);
    }

    [Fact]
    public async Task ReportUsage_SameKeyAfterALostReply_IsAppliedOnceAndAnsweredWithTheFirstMeasurement()
    {
        var before = CurrentUsage();
        Server.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.DropAfterApply, FailCount = 1 });
        await Assert.ThrowsAsync<HttpRequestException>(
            () => GraphQlRawAsync(GraphQlBody("ReportUsage", ReportUsageMutation, $$"""{"input":{{UsageInput}}}""")));

        var retried = await ReportUsageAsync(UsageInput);
        var again = await ReportUsageAsync(UsageInput);

        Assert.Equal(before + 1, CurrentUsage());
        var first = retried.GetProperty("data").GetProperty("reportUsage");
        Assert.Equal(before + 1, first.GetProperty("currentUsage").GetDouble());
        Assert.Equal(first.GetProperty("id").GetString(), again.GetProperty("data").GetProperty("reportUsage").GetProperty("id").GetString());
        var counters = Server.Counters;
        Assert.Equal(1, counters.UsageMeasurementsApplied);
        Assert.Equal(2, counters.UsageMeasurementsReplayed);
        Assert.Equal(1, Assert.Single(counters.UsageAppliedByIdempotencyKey, p => p.Key == "key-1").Value);
    }

    [Fact]
    public async Task ReportUsageBulk_KeysSeenBefore_AreNotAppliedAgain()
    {
        const string Bulk =
            "mutation ReportUsageBulk($input: ReportUsageBulkInput!) { reportUsageBulk(input: $input) { id currentUsage } }";
        const string Usages = """{"input":{"usages":[{"customerId":"acme","featureId":"feature-api-calls","value":2,"idempotencyKey":"b-1"},{"customerId":"acme","featureId":"feature-api-calls","value":3,"idempotencyKey":"b-2"}]}}""";
        var before = CurrentUsage();

        await GraphQlAsync("ReportUsageBulk", Bulk, Usages);
        await GraphQlAsync("ReportUsageBulk", Bulk, Usages);

        Assert.Equal(before + 5, CurrentUsage());
        var counters = Server.Counters;
        Assert.Equal(2, counters.UsageMeasurementsApplied);
        Assert.Equal(2, counters.UsageMeasurementsReplayed);
        Assert.Equal(["b-1", "b-2"], counters.UsageAppliedByIdempotencyKey.Where(p => p.Value == 1).Select(p => p.Key).Order());
    }

    [Fact]
    public async Task ReportUsage_WithoutKey_IsAppliedEveryTimeAndNotListedByKey()
    {
        await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-api-calls","value":1}""");
        await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-api-calls","value":1}""");

        var counters = Server.Counters;
        Assert.Equal(2, counters.UsageMeasurementsApplied);
        Assert.Equal(0, counters.UsageMeasurementsReplayed);
        Assert.Empty(counters.UsageAppliedByIdempotencyKey);
    }

    [Fact]
    public async Task AdminFaults_ConnectionFaultsInJson_RoundTripAndReset()
    {
        using var put = await AdminAsync(HttpMethod.Put, "/admin/faults", """{"edgeConnection":"blackHole","graphQlConnection":"dropAfterApply","failCount":2}""");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(EmulatorConnectionFault.BlackHole, Server.Faults.EdgeConnection);
        Assert.Equal(EmulatorConnectionFault.DropAfterApply, Server.Faults.GraphQlConnection);

        using var get = await AdminAsync(HttpMethod.Get, "/admin/faults");
        var json = await JsonAsync(get);
        Assert.Equal("blackHole", json.GetProperty("edgeConnection").GetString());
        Assert.Equal("dropAfterApply", json.GetProperty("graphQlConnection").GetString());

        Server.ClearFaults();
        await ReportUsageAsync("""{"customerId":"acme","featureId":"feature-api-calls","value":1,"idempotencyKey":"c-1"}""");
        Assert.Equal(1, Server.Counters.UsageAppliedByIdempotencyKey["c-1"]);
        using var reset = await AdminAsync(HttpMethod.Post, "/admin/counters/reset");
        Assert.Empty(Server.Counters.UsageAppliedByIdempotencyKey);
        Assert.Equal(0, Server.Counters.UsageMeasurementsApplied);
    }

    private double CurrentUsage() =>
        Server.GetCustomer("acme")!.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-api-calls").CurrentUsage ?? 0;
}
