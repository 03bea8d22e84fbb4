using System.Globalization;
using Grpc.Net.Client;
using Sidecar.Emulator;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Smoke.Tests;

/// <summary>
/// Issue #10 item 3 on the AOT binary: with CACHE_MAX_SIZE_BYTES set, the process's peak RSS under a load of far more
/// customers than the budget holds stays within the budget plus the documented base (README, CACHE_MAX_SIZE_BYTES).
/// </summary>
[Collection(AotCollection.Name)]
public sealed class MemoryBudgetSmokeTests(AotBinary binary) : IDisposable
{
    /// <summary>The README's base: what the process needs beside CACHE_MAX_SIZE_BYTES (SidecarSettings.ProcessBaseBytes).</summary>
    private const long BaseBytes = 168L << 20;

    private const long BudgetBytes = 16L << 20;

    /// <summary>Sample-shaped customers (~3.3 KB each in the hot tier): ~80 MB of snapshots through a 16 MiB budget.</summary>
    private const int Customers = 24_000;

    private readonly string _cacheDir = Directory.CreateTempSubdirectory("sidecar-smoke-memory-").FullName;

    [Fact]
    public async Task AotBinary_SmallBudget_PeakRssStaysWithinBudgetPlusBaseWhileChurningThroughManyCustomers()
    {
        await using var emulator = await EmulatorServer.StartAsync(EmulatorFixture.SampleOptions() with { Fixture = EntitlementStates.ManyCustomers(Customers) });
        var env = new Dictionary<string, string>
        {
            ["SERVER_API_KEY"] = EmulatorFixture.DefaultApiKey,
            ["API_URL"] = emulator.BaseUrl.ToString(),
            ["CACHE_DIR"] = _cacheDir,
            ["CACHE_MAX_SIZE_BYTES"] = BudgetBytes.ToString(CultureInfo.InvariantCulture),
            ["LOG_LEVEL"] = "warn",
        };
        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, env, TimeSpan.FromSeconds(30));
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);
        var client = new SidecarService.SidecarServiceClient(channel);

        // Every customer once (a miss: Edge fetch, stored, evicting), then every one again (mostly read back from
        // FASTER's disk log into the hot tier, evicting again): 16 checks in flight, as a busy app sends them.
        var answered = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            await Parallel.ForAsync(0, Customers, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            {
                var reply = await client.GetBooleanEntitlementAsync(
                    new GetBooleanEntitlementRequest { CustomerId = $"customer-{i:D5}", FeatureId = "feature-sso" }, cancellationToken: ct);
                if (reply.HasAccess && !reply.IsFallback)
                {
                    Interlocked.Increment(ref answered);
                }
            });
        }

        var peak = StatusBytes(sidecar.ProcessId, "VmHWM");
        using var http = new HttpClient();
        var ready = await http.GetStringAsync(new Uri($"http://127.0.0.1:{sidecar.MetricsPort}/readyz"));
        var held = System.Text.Json.JsonDocument.Parse(ready).RootElement.GetProperty("cachedCustomers").GetInt32();

        // Every check answered from the customer's real data (an OutOfMemoryException under the heap limit would not be).
        Assert.True(answered == 2 * Customers, $"{(2 * Customers) - answered} checks not answered from data; sidecar output:\n{string.Join('\n', sidecar.Output)}");
        Assert.InRange(held, 1, Customers / 4); // the budget held a small part of them: the rest was evicted
        Assert.True(peak <= BudgetBytes + BaseBytes, $"peak RSS {peak >> 20} MiB > budget {BudgetBytes >> 20} MiB + base {BaseBytes >> 20} MiB");
    }

    public void Dispose()
    {
        if (Directory.Exists(_cacheDir))
        {
            Directory.Delete(_cacheDir, recursive: true);
        }
    }

    private static long StatusBytes(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
