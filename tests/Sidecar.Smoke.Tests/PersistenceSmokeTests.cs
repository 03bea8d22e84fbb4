using System.Text.Json;
using Grpc.Net.Client;
using Sidecar.Emulator;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Smoke.Tests;

/// <summary>
/// Issue #10 on the AOT binary: damaged cache files never crash the process nor answer from damage; a full disk, a
/// deleted CACHE_DIR or a read-only one are visible in /readyz and /metrics, the sidecar keeps serving, persistence
/// resumes, and SIGTERM exits whatever the disk does.
/// </summary>
[Collection(AotCollection.Name)]
public sealed class PersistenceSmokeTests(AotBinary binary) : IDisposable
{
    private const int Customers = 150;
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _work = new("sidecar-persist-smoke-");
    private readonly HttpClient _http = new();

    public void Dispose()
    {
        _http.Dispose();
        _work.Dispose();
    }

    private static Dictionary<string, string> Env(Uri apiUrl, string cacheDir, params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["SERVER_API_KEY"] = EmulatorFixture.DefaultApiKey,
            ["API_URL"] = apiUrl.ToString(),
            ["CACHE_DIR"] = cacheDir,
            ["CACHE_CHECKPOINT_INTERVAL_SECS"] = "1",
            ["WS_ENABLED"] = "false",
            // Real answers even on a loaded machine: a miss waits for Stigg (the emulator) rather than answering the fallback.
            ["ENTITLEMENTS_TIMEOUT_MS"] = "5000",
            ["ENTITLEMENTS_MISS_BUDGET_MS"] = "10000",
            ["LOG_LEVEL"] = "debug",
        };
        foreach (var (k, v) in extra)
        {
            env[k] = v;
        }

        return env;
    }

    /// <summary>cust-i has i + 1 seats, so an answer can be checked for exactly its customer.</summary>
    private static void AddCustomers(EmulatorServer emulator)
    {
        for (var i = 0; i < Customers; i++)
        {
            var state = emulator.GetCustomer("acme")!;
            state.EntitlementsV2.Single(e => e.Feature?.RefId == "feature-seats").UsageLimit = i + 1;
            emulator.SetCustomer($"cust-{i}", null, state);
        }
    }

    private static Task<GetNumericEntitlementResponse> SeatsAsync(SidecarService.SidecarServiceClient client, int i) =>
        client.GetNumericEntitlementAsync(new GetNumericEntitlementRequest { CustomerId = $"cust-{i}", FeatureId = "feature-seats" }).ResponseAsync;

    [Fact]
    public async Task AotBinary_DamagedCacheFiles_StartsServesAndNeverAnswersFromDamage()
    {
        var pristine = Path.Combine(_work.Path, "pristine");
        Uri deadApi;
        await using (var emulator = await EmulatorFixture.StartSampleAsync())
        {
            AddCustomers(emulator);
            deadApi = emulator.BaseUrl;
            await using var first = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, pristine), Start);
            using var channel = GrpcChannel.ForAddress(first.GrpcAddress);
            var client = new SidecarService.SidecarServiceClient(channel);
            for (var i = 0; i < Customers; i++)
            {
                Assert.Equal(i + 1, (await SeatsAsync(client, i)).Entitlement.Value);
            }

            Assert.Equal(0, await first.StopAsync(TimeSpan.FromSeconds(20))); // the final checkpoint holds every customer
        }

        // Stigg is gone: an answer is either the customer's own from disk, or the fallback.
        var random = new Random(20261130);
        var files = Directory.GetFiles(Directory.GetDirectories(pristine, "g*").Single(), "*", SearchOption.AllDirectories);
        var served = new List<int>();
        foreach (var (name, flips) in new[] { ("record-header", 1), ("one", 1), ("twenty", 20), ("two-hundred", 200) })
        {
            var copy = CopyTree(pristine, Path.Combine(_work.Path, name));
            if (name == "record-header")
            {
                // The byte in front of a key: what crashed FASTER on every start before the checkpoint digests.
                FlipBeforeKey(copy, "c_cust-7"u8.ToArray());
            }
            else
            {
                for (var f = 0; f < flips; f++)
                {
                    var file = Path.Combine(copy, Path.GetRelativePath(pristine, files[random.Next(files.Length)]));
                    var bytes = File.ReadAllBytes(file);
                    if (bytes.Length > 0)
                    {
                        bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                        File.WriteAllBytes(file, bytes);
                    }
                }
            }

            await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, Env(deadApi, copy), Start);
            using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);
            var client = new SidecarService.SidecarServiceClient(channel);
            var real = 0;
            for (var i = 0; i < Customers; i++)
            {
                var answer = await SeatsAsync(client, i);
                if (!answer.IsFallback)
                {
                    Assert.Equal(i + 1, answer.Entitlement.Value);
                    real++;
                }
            }

            Assert.False(sidecar.HasExited);
            Assert.Equal(0, await sidecar.StopAsync(TimeSpan.FromSeconds(20)));
            served.Add(real);
        }

        Assert.Contains(served, n => n == 0); // at least one damage was caught at start (quarantined)
    }

    [Fact]
    public async Task AotBinary_DiskFull_DegradedVisibleKeepsServingResumesAndStopsPromptly()
    {
        using var disk = new SmallFilesystem(8 * 1024 * 1024);
        var cacheDir = Path.Combine(disk.Path, "cache");
        await using var emulator = await EmulatorFixture.StartSampleAsync();
        AddCustomers(emulator);
        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, cacheDir, ("CACHE_MAX_SIZE_BYTES", "16777216")), Start);
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);
        var client = new SidecarService.SidecarServiceClient(channel);
        Assert.Equal(1, (await SeatsAsync(client, 0)).Entitlement.Value);
        Assert.Equal("healthy", (await ReadyAsync(sidecar)).Persistence);

        var filler = disk.Fill(leaveBytes: 0);
        for (var i = 1; i < Customers; i++)
        {
            Assert.Equal(i + 1, (await SeatsAsync(client, i)).Entitlement.Value);
        }

        var degraded = await Eventually.ValueAsync(() => ReadyAsync(sidecar), r => r.Persistence == "degraded", TimeSpan.FromSeconds(20));
        Assert.True(degraded.Ready);
        Assert.Contains("No space left on device", degraded.Cause, StringComparison.Ordinal);
        Assert.Equal(1, await LinesAsync(sidecar, l => l.Contains("persistence degraded", StringComparison.Ordinal)));
        var metrics = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{sidecar.MetricsPort}/metrics"));
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("sidecar_persistence_degraded", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));

        // Cached customers keep their real answers.
        for (var i = 0; i < Customers; i += 10)
        {
            var answer = await SeatsAsync(client, i);
            Assert.False(answer.IsFallback);
            Assert.Equal(i + 1, answer.Entitlement.Value);
        }

        File.Delete(filler);
        var resumed = await Eventually.ValueAsync(() => ReadyAsync(sidecar), r => r.Persistence == "healthy", TimeSpan.FromSeconds(20));
        Assert.Equal(1, resumed.Resumes);

        // A full disk at shutdown: SIGTERM still ends the process (bounded final checkpoint), not a hang.
        disk.Fill(leaveBytes: 0);
        Assert.Equal(0, await sidecar.StopAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task AotBinary_CacheDirDeleted_DegradesThenResumesInTheRecreatedDirectory()
    {
        var cacheDir = Path.Combine(_work.Path, "deleted");
        await using var emulator = await EmulatorFixture.StartSampleAsync();
        AddCustomers(emulator);
        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, cacheDir), Start);
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcAddress);
        var client = new SidecarService.SidecarServiceClient(channel);
        Assert.Equal(1, (await SeatsAsync(client, 0)).Entitlement.Value);
        await Eventually.ValueAsync(() => Task.FromResult(Directory.Exists(cacheDir) && File.Exists(Path.Combine(cacheDir, "current"))), b => b, TimeSpan.FromSeconds(20));

        Directory.Delete(cacheDir, recursive: true);
        Assert.Equal(2, (await SeatsAsync(client, 1)).Entitlement.Value);

        var resumed = await Eventually.ValueAsync(() => ReadyAsync(sidecar), r => r.Resumes == 1 && r.Persistence == "healthy", TimeSpan.FromSeconds(20));
        Assert.Equal(1, resumed.Faults);
        Assert.Equal(1, await LinesAsync(sidecar, l => l.Contains("persistence degraded", StringComparison.Ordinal) && l.Contains("is gone", StringComparison.Ordinal)));
        Assert.Equal(3, (await SeatsAsync(client, 2)).Entitlement.Value);
        await Eventually.ValueAsync(() => Task.FromResult(File.Exists(Path.Combine(cacheDir, "current"))), b => b, TimeSpan.FromSeconds(20));
        Assert.Equal(0, await sidecar.StopAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task AotBinary_ReadOnlyCacheDir_RunsWithoutPersistenceAfterOneWarning()
    {
        using var disk = new SmallFilesystem(8 * 1024 * 1024);
        var cacheDir = Path.Combine(disk.Path, "cache");
        await using var emulator = await EmulatorFixture.StartSampleAsync();
        AddCustomers(emulator);
        await using (var first = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, cacheDir), Start))
        {
            using var channel = GrpcChannel.ForAddress(first.GrpcAddress);
            Assert.Equal(1, (await SeatsAsync(new SidecarService.SidecarServiceClient(channel), 0)).Entitlement.Value);
            Assert.Equal(0, await first.StopAsync(TimeSpan.FromSeconds(20)));
        }

        // A start that crashed during recovery left its marker: this start must quarantine, on a read-only filesystem.
        File.WriteAllBytes(Path.Combine(Directory.GetDirectories(cacheDir, "g*").Single(), "recovering"), []);
        disk.Remount(readOnly: true);

        await using var sidecar = await SidecarProcess.StartReadyAsync(binary.Path, Env(emulator.BaseUrl, cacheDir), Start);
        using var channel2 = GrpcChannel.ForAddress(sidecar.GrpcAddress);
        var client = new SidecarService.SidecarServiceClient(channel2);
        Assert.Equal(5, (await SeatsAsync(client, 4)).Entitlement.Value);
        var ready = await ReadyAsync(sidecar);
        Assert.Equal("unavailable", ready.Persistence);
        Assert.Contains("Read-only file system", ready.Cause, StringComparison.Ordinal);
        Assert.Equal(1, await LinesAsync(sidecar, l => l.Contains("running without persistence", StringComparison.Ordinal)));
        Assert.DoesNotContain(sidecar.Output, l => l.Contains("\"level\":\"error\"", StringComparison.Ordinal) || l.Contains("\"level\":\"fatal\"", StringComparison.Ordinal));
        Assert.Equal(0, await sidecar.StopAsync(TimeSpan.FromSeconds(20)));
        disk.Remount(readOnly: false);
    }

    /// <summary>
    /// How many output lines match, once at least one has arrived: the process's stdout is read asynchronously, so a
    /// line can trail the state /readyz already shows.
    /// </summary>
    private static Task<int> LinesAsync(SidecarProcess sidecar, Func<string, bool> match) =>
        Eventually.ValueAsync(() => sidecar.Output.Count(match), n => n > 0, TimeSpan.FromSeconds(10));

    private async Task<Readiness> ReadyAsync(SidecarProcess sidecar)
    {
        using var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{sidecar.MetricsPort}/readyz"));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        var detail = root.GetProperty("persistenceDetail");
        return new Readiness(
            root.GetProperty("ready").GetBoolean(),
            root.GetProperty("persistence").GetString()!,
            detail.TryGetProperty("cause", out var cause) && cause.ValueKind == JsonValueKind.String ? cause.GetString()! : string.Empty,
            detail.GetProperty("faults").GetInt64(),
            detail.GetProperty("resumes").GetInt64());
    }

    private static void FlipBeforeKey(string root, byte[] key)
    {
        foreach (var segment in Directory.GetFiles(root, "hlog.*", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(segment);
            var at = bytes.AsSpan().IndexOf(key);
            if (at > 0)
            {
                bytes[at - 1] ^= 0x40;
                File.WriteAllBytes(segment, bytes);
                return;
            }
        }

        throw new InvalidOperationException("key not found in the log");
    }

    private static string CopyTree(string source, string target)
    {
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }

        return target;
    }

    private sealed record Readiness(bool Ready, string Persistence, string Cause, long Faults, long Resumes);
}
