using Grpc.Net.Client;
using Sidecar.Emulator;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Smoke.Tests;

/// <summary>Issues #3 and #4 end to end on the AOT binary: the emulator as Stigg, FASTER on disk, kill -9 and restart.</summary>
[Collection(AotCollection.Name)]
public sealed class UpstreamSmokeTests(AotBinary binary) : IDisposable
{
    /// <summary>acme's API calls in samples/entitlements.json before any report.</summary>
    /// <summary>acme's storage in the sample: metered with no reset period, so no period boundary (the sample's monthly
    /// ones end at a month's start) can zero the total while a test counts it.</summary>
    private const double SampleStorageUsage = 42;

    private readonly string _cacheDir = Directory.CreateTempSubdirectory("sidecar-smoke-cache-").FullName;

    private Dictionary<string, string> Env(Uri apiUrl, params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["SERVER_API_KEY"] = "emulator-key",
            ["API_URL"] = apiUrl.ToString(),
            ["CACHE_DIR"] = _cacheDir,
            ["CACHE_CHECKPOINT_INTERVAL_SECS"] = "1",
            ["LOG_LEVEL"] = "debug",
        };
        foreach (var (k, v) in extra)
        {
            env[k] = v;
        }

        return env;
    }

    [Fact]
    public async Task AotBinary_AgainstEmulator_MissLiveUpdateUsageReconnectAndOutage()
    {
        await using var emulator = await EmulatorFixture.StartSampleAsync();
        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, ("ENTITLEMENTS_TIMEOUT_MS", "1000")), TimeSpan.FromSeconds(30));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await emulator.WaitForCountersAsync(c => c.WsSubscribers >= 3, cts.Token);
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);
        var client = new SidecarService.SidecarServiceClient(channel);
        var seats = new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" };

        // Miss → one Edge fetch → local answers.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(25, (await client.GetNumericEntitlementAsync(seats)).Entitlement.Value);
        }

        Assert.Equal(1, emulator.Counters.EdgeRequestsByCustomer.GetValueOrDefault("acme"));

        // Plan change pushed over the WebSocket → reflected without a refetch.
        var state = emulator.GetCustomer("acme")!;
        state.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-seats").UsageLimit = 40;
        emulator.SetCustomer("acme", null, state);
        await Eventually.ValueAsync(() => client.GetNumericEntitlementAsync(seats).ResponseAsync, r => r.Entitlement.Value == 40, TimeSpan.FromSeconds(10));
        Assert.Equal(1, emulator.Counters.EdgeRequestsByCustomer.GetValueOrDefault("acme"));

        // Usage round trip: the server's absolute usage lands in the cache.
        var ack = await client.ReportUsageAsync(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = 5 });
        var metered = await client.GetMeteredEntitlementAsync(new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls" });
        Assert.Equal(ack.CurrentUsage, metered.Entitlement.CurrentUsage);

        // WebSocket dropped → reconnect and resubscribe; checks keep answering meanwhile.
        var opened = emulator.Counters.WsConnectionsOpened;
        emulator.DropWebSockets();
        Assert.False((await client.GetNumericEntitlementAsync(seats)).IsFallback);
        await emulator.WaitForCountersAsync(c => c.WsConnectionsOpened > opened && c.WsSubscribers >= 3, cts.Token);

        // Edge failing: cached customers from cache, new ones get the fallback — never an error status.
        emulator.SetFaults(new EmulatorFaults { EdgeStatus = 500 });
        var cached = await client.GetNumericEntitlementAsync(seats);
        var uncached = await client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "globex", FeatureId = "feature-seats" });
        Assert.False(cached.IsFallback);
        Assert.True(uncached.IsFallback);

        Assert.Equal(0, await sidecar.StopAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task AotBinary_KilledAfterCheckpoint_RestartsWithUpstreamDown_ServesRecoveredCustomers()
    {
        Uri apiUrl;
        await using (var emulator = await EmulatorFixture.StartSampleAsync())
        {
            apiUrl = emulator.BaseUrl;
            await using var first = await SidecarProcess.StartReadyAsync(binary.Path, Env(apiUrl, ("WS_ENABLED", "false")), TimeSpan.FromSeconds(30));
            using var channel = GrpcChannel.ForAddress(first.GrpcAddress);
            var client = new SidecarService.SidecarServiceClient(channel);
            Assert.Equal(25, (await client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" })).Entitlement.Value);
            Assert.Equal(3, (await client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "globex", FeatureId = "feature-seats" })).Entitlement.Value);

            // Two checkpoints after the writes: the second one certainly started after they completed.
            var taken = CheckpointLines(first);
            await Eventually.ValueAsync(() => CheckpointLines(first), n => n > taken, TimeSpan.FromSeconds(20));
            await client.GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "initech", FeatureId = "feature-sso" });
            taken = CheckpointLines(first);
            await Eventually.ValueAsync(() => CheckpointLines(first), n => n > taken, TimeSpan.FromSeconds(20));

            await first.StopAsync(TimeSpan.FromSeconds(10), kill: true);
        }

        // The emulator is gone: nothing listens at API_URL any more.
        await using var second = await SidecarProcess.StartReadyAsync(binary.Path, Env(apiUrl, ("WS_ENABLED", "false"), ("ENTITLEMENTS_TIMEOUT_MS", "500")), TimeSpan.FromSeconds(30));
        using var channel2 = GrpcChannel.ForAddress(second.GrpcAddress);
        var client2 = new SidecarService.SidecarServiceClient(channel2);

        var acme = await client2.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" });
        var globex = await client2.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "globex", FeatureId = "feature-seats" });
        var never = await client2.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = "umbrella", FeatureId = "feature-seats" });

        Assert.False(acme.IsFallback);
        Assert.Equal(25, acme.Entitlement.Value);
        Assert.False(globex.IsFallback);
        Assert.Equal(3, globex.Entitlement.Value);
        Assert.True(never.IsFallback);
        Assert.Contains(second.Output, l => l.Contains("recovered checkpoint", StringComparison.Ordinal));
        using var http = new HttpClient();
        var metrics = await Eventually.ValueAsync(
            () => http.GetStringAsync(new Uri($"http://127.0.0.1:{second.MetricsPort}/metrics")),
            m => m.Contains("tier=\"faster\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10));
        Assert.Contains("sidecar_cache_hits_total", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AotBinary_UsageDuringOutage_KilledAndRestarted_EveryReportDeliveredExactlyOnce()
    {
        const int Reports = 40;
        await using var emulator = await EmulatorFixture.StartSampleAsync();
        emulator.SetFaults(new EmulatorFaults { GraphQlConnection = EmulatorConnectionFault.Refuse });
        var acknowledged = new List<ReportUsageResponse>();
        await using (var first = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, ("WS_ENABLED", "false")), TimeSpan.FromSeconds(30)))
        {
            using var channel = GrpcChannel.ForAddress(first.GrpcAddress);
            var client = new SidecarService.SidecarServiceClient(channel);
            for (var i = 1; i <= Reports; i++)
            {
                acknowledged.Add(await client.ReportUsageAsync(new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-storage-gb", Value = i }));
            }

            // Acknowledged means durable: kill -9 right after the last acknowledgement.
            await first.StopAsync(TimeSpan.FromSeconds(10), kill: true);
        }

        Assert.Equal(0, emulator.Counters.UsageMeasurementsApplied);
        emulator.SetFaults(new EmulatorFaults());
        await using var second = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, ("WS_ENABLED", "false")), TimeSpan.FromSeconds(30));
        var counters = await Eventually.ValueAsync(() => Task.FromResult(emulator.Counters), c => c.UsageMeasurementsApplied >= Reports, TimeSpan.FromSeconds(60));

        Assert.All(acknowledged, a => Assert.False(string.IsNullOrEmpty(a.MeasurementId)));
        Assert.Equal(Reports, acknowledged.Select(a => a.MeasurementId).Distinct().Count());
        Assert.Equal(Reports, counters.UsageMeasurementsApplied);
        Assert.Equal(Reports, counters.UsageAppliedByIdempotencyKey.Count);
        Assert.All(counters.UsageAppliedByIdempotencyKey.Values, n => Assert.Equal(1, n));
        Assert.Equal(Reports * (Reports + 1) / 2, TotalReported(emulator));
    }

    [Fact]
    public async Task AotBinary_CorruptCheckpoint_StartsCleanWithAWarning()
    {
        await using var emulator = await EmulatorFixture.StartSampleAsync();
        await using (var first = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, ("WS_ENABLED", "false")), TimeSpan.FromSeconds(30)))
        {
            using var channel = GrpcChannel.ForAddress(first.GrpcAddress);
            await new SidecarService.SidecarServiceClient(channel).GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });
            Assert.Equal(0, await first.StopAsync(TimeSpan.FromSeconds(15)));
        }

        var metadata = Directory.GetFiles(Directory.GetDirectories(_cacheDir, "g*").Single(), "info.dat*", SearchOption.AllDirectories);
        Assert.NotEmpty(metadata);
        foreach (var file in metadata)
        {
            File.WriteAllBytes(file, [0x13, 0x37, 0xde, 0xad]);
        }

        await using var second = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, ("WS_ENABLED", "false")), TimeSpan.FromSeconds(30));
        using var channel2 = GrpcChannel.ForAddress(second.GrpcAddress);
        var acme = await new SidecarService.SidecarServiceClient(channel2).GetBooleanEntitlementAsync(new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" });

        Assert.True(acme.HasAccess);
        Assert.Contains(second.Output, l => l.Contains("\"level\":\"warn\"", StringComparison.Ordinal) && l.Contains("started empty", StringComparison.Ordinal));
        Assert.Equal(2, emulator.Counters.EdgeRequestsByCustomer.GetValueOrDefault("acme"));
    }

    public void Dispose()
    {
        if (Directory.Exists(_cacheDir))
        {
            Directory.Delete(_cacheDir, recursive: true);
        }
    }

    private static int CheckpointLines(SidecarProcess process) =>
        process.Output.Count(l => l.Contains("checkpoint", StringComparison.Ordinal) && l.Contains("taken at version", StringComparison.Ordinal));

    /// <summary>What Stigg now counts for acme's storage above the sample's starting usage.</summary>
    private static double TotalReported(EmulatorServer emulator)
    {
        var state = emulator.GetCustomer("acme") ?? throw new InvalidOperationException("acme is gone");
        var usage = state.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-storage-gb").CurrentUsage ?? 0;
        return usage - SampleStorageUsage;
    }
}
