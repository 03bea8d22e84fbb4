using System.Diagnostics;
using Grpc.Core;
using Sidecar.Emulator;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>Issue #3: the sidecar against the Stigg emulator over real sockets (Edge, GraphQL, WebSocket).</summary>
public sealed class UpstreamModeTests
{
    private static GetBooleanEntitlementRequest Sso(string customer) => new() { CustomerId = customer, FeatureId = "feature-sso" };

    private static GetNumericEntitlementRequest Seats(string customer) => new() { CustomerId = customer, FeatureId = "feature-seats" };

    [Fact]
    public async Task Miss_OneEdgeFetch_LaterChecksServedLocally()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;

        for (var i = 0; i < 20; i++)
        {
            var r = await client.GetBooleanEntitlementAsync(Sso("acme"));
            Assert.True(r.HasAccess);
            Assert.False(r.IsFallback);
        }

        Assert.Equal(1, stigg.EdgeRequestsFor("acme"));
    }

    [Fact]
    public async Task MissStorm_1000ConcurrentChecksForOneCustomer_ExactlyOneEdgeRequest()
    {
        // Checks wait for the Edge here (the miss budget has its own tests): every answer must be the real one.
        await using var stigg = await EmulatedStigg.StartAsync(
            new Dictionary<string, string> { ["ENTITLEMENTS_MISS_BUDGET_MS"] = "60000" }, edgeLatency: TimeSpan.FromMilliseconds(100));
        var client = stigg.Sidecar.Client;

        var calls = Enumerable.Range(0, 1000).Select(_ => client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest
        {
            CustomerId = "globex",
            FeatureId = "feature-api-calls",
        }).ResponseAsync);
        var results = await Task.WhenAll(calls);

        Assert.All(results, r => Assert.False(r.IsFallback));
        Assert.All(results, r => Assert.Equal(100, r.Entitlement.CurrentUsage));
        Assert.Equal(1, stigg.EdgeRequestsFor("globex"));
    }

    [Fact]
    public async Task PlanChange_ThroughAdminApi_NextChecksReflectItWithoutRefetch()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;
        var before = await client.GetNumericEntitlementAsync(Seats("acme"));
        var fetchesBefore = stigg.EdgeRequestsFor("acme");

        var changedAt = Stopwatch.StartNew();
        stigg.Emulator.SetCustomer("acme", null, stigg.EditedState("acme", s => s.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-seats").UsageLimit = 40));
        var after = await Eventually.ValueAsync(() => client.GetNumericEntitlementAsync(Seats("acme")).ResponseAsync, r => r.Entitlement.Value == 40, TimeSpan.FromSeconds(10));
        changedAt.Stop();

        Assert.Equal(25, before.Entitlement.Value);
        Assert.Equal(40, after.Entitlement.Value);
        Assert.False(after.IsFallback);
        Assert.Equal(fetchesBefore, stigg.EdgeRequestsFor("acme"));
    }

    [Fact]
    public async Task CustomerDeleted_ThroughAdminApi_DeniedCustomerNotFound()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;
        Assert.True((await client.GetBooleanEntitlementAsync(Sso("initech"))).HasAccess);

        stigg.Emulator.RemoveCustomer("initech");
        var after = await Eventually.ValueAsync(() => client.GetBooleanEntitlementAsync(Sso("initech")).ResponseAsync, r => !r.HasAccess, TimeSpan.FromSeconds(10));

        Assert.Equal(AccessDeniedReason.CustomerNotFound, after.AccessDeniedReason);
        Assert.False(after.IsFallback);
    }

    [Fact]
    public async Task ReportUsage_DeltaThenSet_ServerAbsoluteUsageIsCached()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;
        await client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" });

        var delta = await client.ReportUsageAsync(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 5 });
        var afterDelta = await client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" });
        var set = await client.ReportUsageAsync(new ReportUsageRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Value = 990,
            UpdateBehavior = UsageUpdateBehavior.Set,
        });
        var afterSet = await client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest
        {
            CustomerId = "acme",
            FeatureId = "feature-api-calls",
            Options = new MeteredEntitlementOptions { RequestedUsage = 11 },
        });

        Assert.Equal(255, delta.CurrentUsage);
        Assert.False(string.IsNullOrEmpty(delta.MeasurementId));
        Assert.Equal(255, afterDelta.Entitlement.CurrentUsage);
        Assert.Equal(990, set.CurrentUsage);
        Assert.Equal(990, afterSet.Entitlement.CurrentUsage);
        Assert.False(afterSet.HasAccess);
        Assert.Equal(1, stigg.EdgeRequestsFor("acme"));
    }

    [Fact]
    public async Task ReportUsageBulk_EachItemApplied()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;

        var bulk = await client.ReportUsageBulkAsync(new ReportUsageBulkRequest
        {
            Usages =
            {
                new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 },
                new ReportUsageRequest { CustomerId = "globex", FeatureId = "feature-reports", Value = 2, UpdateBehavior = UsageUpdateBehavior.Set },
            },
        });

        Assert.Equal(2, bulk.Usages.Count);
        Assert.Equal(251, bulk.Usages[0].CurrentUsage);
        Assert.Equal(2, bulk.Usages[1].CurrentUsage);
        Assert.Equal(1, stigg.Emulator.Counters.GraphQlRequestsByOperation.GetValueOrDefault("ReportUsageBulk"));
    }

    [Fact]
    public async Task ReportEvents_DuplicateIdempotencyKey_RecordedOnce()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;
        var e = new Event { EventName = "document-exported", CustomerId = "acme", IdempotencyKey = "evt-1" };

        await client.ReportEventsAsync(new ReportEventsRequest { Events = { e } });
        await client.ReportEventsAsync(new ReportEventsRequest { Events = { e } });

        Assert.Single(stigg.Emulator.Events, x => x.IdempotencyKey == "evt-1");
    }

    [Fact]
    public async Task UsageEvent_FromStigg_UpdatesCachedUsage()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;
        await client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" });

        stigg.Emulator.ReportUsage(new AdminUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 700, UpdateBehavior = "SET" });
        var after = await Eventually.ValueAsync(
            () => client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" }).ResponseAsync,
            r => r.Entitlement.CurrentUsage == 700,
            TimeSpan.FromSeconds(10));

        Assert.Equal(700, after.Entitlement.CurrentUsage);
        Assert.Equal(1, stigg.EdgeRequestsFor("acme"));
    }

    [Fact]
    public async Task WebSocketDropped_Reconnects_RevalidatesAndNoCheckFails()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;
        await client.GetBooleanEntitlementAsync(Sso("acme"));
        var opened = stigg.Emulator.Counters.WsConnectionsOpened;
        var fetchesBefore = stigg.EdgeRequestsFor("acme");

        using var stop = new CancellationTokenSource();
        var failures = 0;
        var answered = 0;
        var checking = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var r = await client.GetBooleanEntitlementAsync(Sso("acme"));
                if (!r.HasAccess || r.IsFallback)
                {
                    Interlocked.Increment(ref failures);
                }

                Interlocked.Increment(ref answered);
            }
        });

        stigg.Emulator.DropWebSockets();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await stigg.Emulator.WaitForCountersAsync(c => c.WsConnectionsOpened > opened && c.WsSubscribers >= 3, cts.Token);
        }

        await stigg.WaitForEventStreamAsync();
        await Eventually.ValueAsync(() => stigg.EdgeRequestsFor("acme"), n => n > fetchesBefore, TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await checking;

        Assert.Equal(0, failures);
        Assert.True(answered > 0);
    }

    [Fact]
    public async Task EdgeFailing_NewCustomerGetsFallback_CachedCustomerServedFromCache()
    {
        await using var stigg = await EmulatedStigg.StartAsync(new Dictionary<string, string>
        {
            ["ENTITLEMENTS_FALLBACK"] = """{"feature-sso":{"hasAccess":true}}""",
            ["ENTITLEMENTS_TIMEOUT_MS"] = "1500",
        });
        var client = stigg.Sidecar.Client;
        await client.GetBooleanEntitlementAsync(Sso("acme"));

        stigg.Emulator.SetFaults(new EmulatorFaults { EdgeStatus = 500 });
        var cached = await client.GetBooleanEntitlementAsync(Sso("acme"));
        var uncached = await client.GetBooleanEntitlementAsync(Sso("globex"));

        Assert.True(cached.HasAccess);
        Assert.False(cached.IsFallback);
        Assert.True(uncached.IsFallback);
        Assert.True(uncached.HasAccess);
        Assert.True(stigg.EdgeRequestsFor("globex") >= 1);
    }

    [Fact]
    public async Task EdgeSlowerThanBudget_FallbackNotErrorNotHang()
    {
        await using var stigg = await EmulatedStigg.StartAsync(
            new Dictionary<string, string> { ["ENTITLEMENTS_TIMEOUT_MS"] = "300" },
            edgeLatency: TimeSpan.FromSeconds(20));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));

        var r = await stigg.Sidecar.Client.GetMeteredEntitlementAsync(
            new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" },
            cancellationToken: deadline.Token);

        Assert.True(r.IsFallback);
        Assert.False(r.HasAccess);
        Assert.Equal(AccessDeniedReason.Unknown, r.AccessDeniedReason);
    }

    [Fact]
    public async Task InvalidApiKey_ProcessKeepsServingFallback_ReadinessSaysSo()
    {
        await using var stigg = await EmulatedStigg.StartAsync(
            new Dictionary<string, string> { ["ENTITLEMENTS_FALLBACK"] = """{"feature-seats":{"hasAccess":true,"value":3}}""" },
            apiKey: "wrong-key",
            waitForEvents: false);
        stigg.Sidecar.ExpectedErrors.UnionWith([7, 1103]); // the API key check and the event stream both say the key was rejected
        var client = stigg.Sidecar.Client;

        var seats = await client.GetNumericEntitlementAsync(Seats("acme"));
        var ready = await Eventually.ValueAsync(
            () => stigg.Sidecar.Http.GetStringAsync(new Uri("/readyz", UriKind.Relative)),
            body => body.Contains("invalid-api-key", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10));

        Assert.True(seats.IsFallback);
        Assert.Equal(3, seats.Entitlement.Value);
        Assert.Contains("\"ready\":true", ready, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-key", stigg.Sidecar.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReloadEntitlements_RefetchesThroughGraphQl()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;

        var acme = await client.ReloadEntitlementsAsync(new ReloadEntitlementsRequest { CustomerId = "acme" });
        var hooli = await client.ReloadEntitlementsAsync(new ReloadEntitlementsRequest { CustomerId = "hooli" });

        Assert.True(acme.EntitledEntityExists);
        Assert.False(hooli.EntitledEntityExists);
        Assert.Equal(2, stigg.Emulator.Counters.GraphQlRequestsByOperation.GetValueOrDefault("GetEntitlementsState"));
        Assert.Equal(0, stigg.EdgeRequestsFor("acme"));
    }

    [Fact]
    public async Task GraphQlUnavailable_ReportUsageAcceptedIntoTheOutbox_DeliveredOnceWhenBack()
    {
        await using var stigg = await EmulatedStigg.StartAsync();
        var client = stigg.Sidecar.Client;
        var before = (await client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" })).Entitlement.CurrentUsage;
        stigg.Emulator.SetFaults(new EmulatorFaults { GraphQlStatus = 503 });

        var accepted = await client.ReportUsageAsync(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 5 });
        var seen = await client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" });
        var ready = await stigg.Sidecar.Http.GetStringAsync(new Uri("/readyz", UriKind.Relative));
        // Stigg is back; the breaker's break runs on the (pinned) test clock: move it past the break.
        stigg.Emulator.SetFaults(new EmulatorFaults());
        stigg.Clock.Advance(TimeSpan.FromSeconds(31));
        var counters = await Eventually.ValueAsync(() => Task.FromResult(stigg.Emulator.Counters), c => c.UsageMeasurementsApplied >= 1, TimeSpan.FromSeconds(60));

        Assert.False(string.IsNullOrEmpty(accepted.MeasurementId));
        Assert.Equal(before + 5, accepted.CurrentUsage);
        Assert.Equal(before + 5, seen.Entitlement.CurrentUsage);
        Assert.Contains("\"usageOutbox\":{", ready, StringComparison.Ordinal);
        Assert.Contains("\"depth\":1", ready, StringComparison.Ordinal);
        Assert.Equal(1, counters.UsageMeasurementsApplied);
        Assert.Equal(1, Assert.Single(counters.UsageAppliedByIdempotencyKey).Value);
    }

    [Fact]
    public async Task OutboxFull_ReportUsageResourceExhausted_NothingStored()
    {
        await using var stigg = await EmulatedStigg.StartAsync(new Dictionary<string, string> { ["USAGE_OUTBOX_MAX_BYTES"] = "1048576" });
        var client = stigg.Sidecar.Client;
        stigg.Emulator.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.Refuse });
        var big = new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 1 };
        big.Dimensions.Add("note", new EventDimensionValue { StringValue = new string('x', 1000) });

        RpcException? refused = null;
        var accepted = 0;
        while (refused is null && accepted < 5000)
        {
            try
            {
                await client.ReportUsageAsync(big);
                accepted++;
            }
            catch (RpcException ex)
            {
                refused = ex;
            }
        }

        Assert.NotNull(refused);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("usage was not accepted", refused.Status.Detail, StringComparison.Ordinal);
        Assert.InRange(accepted, 100, 1100);
    }

    [Fact]
    public async Task EdgeDisabled_MissGoesToGraphQl()
    {
        await using var stigg = await EmulatedStigg.StartAsync(new Dictionary<string, string> { ["EDGE_ENABLED"] = "false" });

        var r = await stigg.Sidecar.Client.GetBooleanEntitlementAsync(Sso("acme"));

        Assert.True(r.HasAccess);
        Assert.Equal(0, stigg.EdgeRequestsFor("acme"));
        Assert.Equal(1, stigg.Emulator.Counters.GraphQlRequestsByOperation.GetValueOrDefault("GetEntitlementsState"));
    }

    [Fact]
    public async Task WsDisabled_StaleEntryServedThenRevalidatedInBackground()
    {
        var time = Clocks.WallAtSampleNow();
        await using var emulator = await EmulatorFixture.StartSampleAsync(time: time);
        await using var sidecar = await SidecarHost.StartAsync(
            SidecarHost.UpstreamEnv(emulator, ("WS_ENABLED", "false"), ("CACHE_FRESHNESS_SECS", "30")),
            time);
        var first = await sidecar.Client.GetNumericEntitlementAsync(Seats("acme"));
        emulator.SetCustomer("acme", null, EditSeats(emulator, 40));

        var withinWindow = await sidecar.Client.GetNumericEntitlementAsync(Seats("acme"));
        time.Advance(TimeSpan.FromSeconds(31));
        var stale = await sidecar.Client.GetNumericEntitlementAsync(Seats("acme"));
        var refreshed = await Eventually.ValueAsync(() => sidecar.Client.GetNumericEntitlementAsync(Seats("acme")).ResponseAsync, r => r.Entitlement.Value == 40, TimeSpan.FromSeconds(10));

        Assert.Equal(25, first.Entitlement.Value);
        Assert.Equal(25, withinWindow.Entitlement.Value);
        Assert.Equal(25, stale.Entitlement.Value);
        Assert.Equal(40, refreshed.Entitlement.Value);
        Assert.Equal(2, emulator.Counters.EdgeRequestsByCustomer.GetValueOrDefault("acme"));
    }

    private static Core.Json.EntitlementsStateDto EditSeats(EmulatorServer emulator, int seats)
    {
        var state = emulator.GetCustomer("acme")!;
        state.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-seats").UsageLimit = seats;
        return state;
    }
}
