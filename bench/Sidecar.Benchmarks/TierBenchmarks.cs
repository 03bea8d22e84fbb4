using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Cache.Faster;
using Sidecar.Cache.Redis;
using Sidecar.Core.Model;

namespace Sidecar.Benchmarks;

/// <summary>
/// <see cref="FasterTier.ReadAsync"/> of a customer on the sample's full plan (7 entitlements): from the in-memory
/// part of the hybrid log, and from the part that was flushed to disk (read back with one I/O — on this machine most
/// likely from the OS page cache, which is also what a warm production host sees). Each read decodes the snapshot.
/// </summary>
[MemoryDiagnoser]
public class FasterTierBenchmarks
{
    private const int Reads = 256;
    private const int MemoryCustomers = 5_000;
    private const int DiskCustomers = 40_000;

    private string _root = null!;
    private FasterTier _memory = null!;
    private FasterTier _disk = null!;
    private CustomerKey[] _memoryKeys = null!;
    private CustomerKey[] _diskKeys = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _root = Path.Combine(Path.GetTempPath(), "sidecar-bench-faster-" + Environment.ProcessId);
        var plan = SampleData.State("acme");

        // Memory region: 64 MiB of log memory holds every customer written.
        _memory = await FasterTier.OpenAsync(
            new FasterTierOptions { Directory = Path.Combine(_root, "memory"), MemoryBytes = 64L << 20, PageBytes = 1L << 20 },
            NullLogger.Instance, TimeProvider.System, CancellationToken.None).ConfigureAwait(false);
        for (var i = 0; i < MemoryCustomers; i++)
        {
            await _memory.WriteAsync(SampleData.SnapshotAs(SampleData.CustomerId(i), plan), CancellationToken.None).ConfigureAwait(false);
        }

        // Disk region: 4 MiB of log memory; the first customers written are far below the head address.
        _disk = await FasterTier.OpenAsync(
            new FasterTierOptions { Directory = Path.Combine(_root, "disk"), MemoryBytes = 4L << 20, PageBytes = 256L << 10 },
            NullLogger.Instance, TimeProvider.System, CancellationToken.None).ConfigureAwait(false);
        for (var i = 0; i < DiskCustomers; i++)
        {
            await _disk.WriteAsync(SampleData.SnapshotAs(SampleData.CustomerId(i), plan), CancellationToken.None).ConfigureAwait(false);
        }

        var inMemoryShare = (double)(_disk.LogTailAddress - _disk.LogHeadAddress) / (_disk.LogTailAddress - _disk.LogBeginAddress);
        if (inMemoryShare > 0.5)
        {
            throw new InvalidOperationException($"the disk-region store still holds {inMemoryShare:P0} of its log in memory");
        }

        var random = new Random(3);
        _memoryKeys = Enumerable.Range(0, Reads).Select(_ => new CustomerKey(SampleData.CustomerId(random.Next(MemoryCustomers)), null)).ToArray();
        // The oldest tenth of the log: on disk whatever the record size.
        _diskKeys = Enumerable.Range(0, Reads).Select(_ => new CustomerKey(SampleData.CustomerId(random.Next(DiskCustomers / 10)), null)).ToArray();
        if (await _memory.ReadAsync(_memoryKeys[0], CancellationToken.None).ConfigureAwait(false) is null
            || await _disk.ReadAsync(_diskKeys[0], CancellationToken.None).ConfigureAwait(false) is null)
        {
            throw new InvalidOperationException("a written customer does not read back");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _memory.DisposeAsync().ConfigureAwait(false);
        await _disk.DisposeAsync().ConfigureAwait(false);
        Directory.Delete(_root, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Reads)]
    public async Task<int> ReadMemoryRegion() => await ReadAllAsync(_memory, _memoryKeys).ConfigureAwait(false);

    [Benchmark(OperationsPerInvoke = Reads)]
    public async Task<int> ReadDiskRegion() => await ReadAllAsync(_disk, _diskKeys).ConfigureAwait(false);

    private static async Task<int> ReadAllAsync(FasterTier tier, CustomerKey[] keys)
    {
        var found = 0;
        foreach (var key in keys)
        {
            if (await tier.ReadAsync(key, CancellationToken.None).ConfigureAwait(false) is not null)
            {
                found++;
            }
        }

        return found;
    }
}

/// <summary>
/// <see cref="RedisTier.ReadAsync"/> of a customer on the sample's full plan against a redis-server started for the
/// run on a free loopback port (Stigg's layout: entitlements hash, metadata and usage keys, decoded into a snapshot).
/// </summary>
[MemoryDiagnoser]
public class RedisTierBenchmarks
{
    private const int Customers = 1_000;

    private Process _server = null!;
    private RedisConnection _connection = null!;
    private RedisTier _tier = null!;
    private CustomerKey[] _keys = null!;
    private int _next;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var port = FreePort();
        var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no" })
        {
            start.ArgumentList.Add(arg);
        }

        _server = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        _server.BeginOutputReadLine();
        var plan = SampleData.State("acme");
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        while (true)
        {
            _connection = await RedisConnection.ConnectAsync(
                new RedisTierOptions { EnvironmentPrefix = "bench", Host = "127.0.0.1", Port = port, OperationTimeout = TimeSpan.FromSeconds(2) },
                NullLogger.Instance, TimeProvider.System, CancellationToken.None).ConfigureAwait(false);
            if (_connection.IsConnected)
            {
                break;
            }

            await _connection.DisposeAsync().ConfigureAwait(false);
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new InvalidOperationException($"redis-server on port {port} is not reachable");
            }
        }

        _tier = new RedisTier(_connection);

        for (var i = 0; i < Customers; i++)
        {
            await _tier.WriteAsync(SampleData.SnapshotAs(SampleData.CustomerId(i), plan), CancellationToken.None).ConfigureAwait(false);
        }

        var random = new Random(5);
        _keys = Enumerable.Range(0, 1024).Select(_ => new CustomerKey(SampleData.CustomerId(random.Next(Customers)), null)).ToArray();
        if (await _tier.ReadAsync(_keys[0], CancellationToken.None).ConfigureAwait(false) is null)
        {
            throw new InvalidOperationException("a written customer does not read back from Redis");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _tier.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _server.Kill();
        await _server.WaitForExitAsync().ConfigureAwait(false);
        _server.Dispose();
    }

    [Benchmark]
    public async Task<CustomerSnapshot?> Read()
    {
        var key = _keys[_next++ & 1023];
        return await _tier.ReadAsync(key, CancellationToken.None).ConfigureAwait(false);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
