using Grpc.Core;
using Sidecar.Emulator;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>
/// Stigg down in each way it can be (refusing connections, black-holed, answering 503): a check for a customer not
/// yet cached answers the fallback before the caller's deadline, never DEADLINE_EXCEEDED; the breaker remembers the
/// outage; cached customers keep their real answers; the first checks after recovery are real again.
/// </summary>
[Collection(OutageCollection.Name)]
public sealed class OutageTests
{
    private static readonly Dictionary<string, string> FallbackSso = new()
    {
        ["ENTITLEMENTS_FALLBACK"] = """{"feature-sso":{"hasAccess":true}}""",
    };

    public static TheoryData<string, int> Outages => new()
    {
        { "refuse", 50 }, { "refuse", 200 },
        { "blackHole", 50 }, { "blackHole", 200 },
        { "503", 50 }, { "503", 200 },
    };

    [Theory]
    [MemberData(nameof(Outages))]
    public async Task Miss_StiggDown_FallbackWithinTheCallersDeadline(string outage, int deadlineMs)
    {
        await using var stigg = await EmulatedStigg.StartAsync(new(FallbackSso), waitForEvents: false);
        var client = stigg.Sidecar.Client;
        var cached = await client.GetBooleanEntitlementAsync(Sso("acme"));
        stigg.Emulator.SetFaults(Fault(outage));

        // The first timed-out miss also compiles that path in process: take it with a roomy deadline.
        await client.GetBooleanEntitlementAsync(Sso("initech"), deadline: DateTime.UtcNow.AddSeconds(5));
        var answers = new List<GetBooleanEntitlementResponse>();
        foreach (var customer in new[] { "globex", "hooli", "umbrella" })
        {
            answers.Add(await client.GetBooleanEntitlementAsync(Sso(customer), deadline: DateTime.UtcNow.AddMilliseconds(deadlineMs)));
        }

        var stillCached = await client.GetBooleanEntitlementAsync(Sso("acme"), deadline: DateTime.UtcNow.AddMilliseconds(deadlineMs));
        Assert.False(cached.IsFallback);
        Assert.All(answers, a => Assert.True(a.IsFallback && a.HasAccess));
        Assert.False(stillCached.IsFallback);
        Assert.True(stillCached.HasAccess);
    }

    [Fact]
    public async Task Miss_NoDeadline_AnswersAfterTheMissBudget_FetchFillsTheCacheAfterwards()
    {
        await using var stigg = await EmulatedStigg.StartAsync(
            new(FallbackSso) { ["ENTITLEMENTS_MISS_BUDGET_MS"] = "150" }, edgeLatency: TimeSpan.FromMilliseconds(600), waitForEvents: false);
        var client = stigg.Sidecar.Client;

        var first = await client.GetBooleanEntitlementAsync(Sso("acme"));
        var later = await Eventually.ValueAsync(() => client.GetBooleanEntitlementAsync(Sso("acme")).ResponseAsync, r => !r.IsFallback, TimeSpan.FromSeconds(10));

        Assert.True(first.IsFallback);
        Assert.True(later.HasAccess);
        Assert.Equal(1, stigg.EdgeRequestsFor("acme"));
    }

    [Fact]
    public async Task Outage_BreakerOpens_MissesFailFast_RecoveryGivesRealAnswers()
    {
        await using var stigg = await EmulatedStigg.StartAsync(new(FallbackSso), waitForEvents: false);
        var client = stigg.Sidecar.Client;
        stigg.Emulator.SetFaults(new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.Refuse });

        // Failures open the breaker; readiness says so.
        var ready = await Eventually.ValueAsync(
            async () =>
            {
                await client.GetBooleanEntitlementAsync(Sso("initech"), deadline: DateTime.UtcNow.AddSeconds(5));
                return await stigg.Sidecar.Http.GetStringAsync(new Uri("/readyz", UriKind.Relative));
            },
            body => body.Contains("\"stiggCircuit\":\"open\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30));
        var sentBefore = stigg.Emulator.Counters.EdgeRequests;
        var whileOpen = await client.GetBooleanEntitlementAsync(Sso("acme"), deadline: DateTime.UtcNow.AddSeconds(5));
        var sentWhileOpen = stigg.Emulator.Counters.EdgeRequests - sentBefore;

        // Stigg is back; once the break (5 s on the breaker's clock) is over, a probe finds it and misses are real again.
        stigg.Emulator.SetFaults(new EmulatorFaults());
        stigg.Clock.Advance(TimeSpan.FromSeconds(6));
        var recovered = await Eventually.ValueAsync(() => client.GetBooleanEntitlementAsync(Sso("acme")).ResponseAsync, r => !r.IsFallback, TimeSpan.FromSeconds(30));

        Assert.Contains("\"ready\":true", ready, StringComparison.Ordinal);
        Assert.True(whileOpen.IsFallback);
        Assert.Equal(0, sentWhileOpen);
        Assert.True(recovered.HasAccess);
    }

    [Fact]
    public async Task ReloadEntitlements_StiggDown_CachedTruthOrUnavailable_NeverFalse()
    {
        await using var stigg = await EmulatedStigg.StartAsync(waitForEvents: false);
        var client = stigg.Sidecar.Client;
        await client.GetBooleanEntitlementAsync(Sso("acme"));
        stigg.Emulator.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.Refuse, EdgeConnection = EmulatorConnectionFault.Refuse });

        var cached = await client.ReloadEntitlementsAsync(new ReloadEntitlementsRequest { CustomerId = "acme" });
        var unknown = await Assert.ThrowsAsync<RpcException>(() => client.ReloadEntitlementsAsync(new ReloadEntitlementsRequest { CustomerId = "globex" }).ResponseAsync);

        Assert.True(cached.EntitledEntityExists);
        Assert.Equal(StatusCode.Unavailable, unknown.StatusCode);
        Assert.Contains("could not be reloaded", unknown.Status.Detail, StringComparison.Ordinal);
    }

    private static EmulatorFaults Fault(string outage) => outage switch
    {
        "refuse" => new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.Refuse },
        "blackHole" => new EmulatorFaults { EdgeConnection = EmulatorConnectionFault.BlackHole },
        _ => new EmulatorFaults { EdgeStatus = 503 },
    };

    private static GetBooleanEntitlementRequest Sso(string customer) => new() { CustomerId = customer, FeatureId = "feature-sso" };
}

/// <summary>
/// The deadline tests measure the sidecar's own timing in this process: they run alone, not beside other classes'
/// hosts, emulators and fuzzers competing for the same 2 cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OutageCollection
{
    public const string Name = "Outages (timing)";
}
