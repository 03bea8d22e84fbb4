using System.Diagnostics;

namespace Sidecar.LoadClient;

/// <summary>
/// Closed-loop load for a fixed time: C workers over K connections, each sending its next pre-encoded call as soon as
/// the previous one is answered. Customers are drawn from a Zipf distribution (a few hot customers, a long tail), as
/// real traffic is; <c>--zipf 0</c> draws uniformly. Latencies of the warm-up are not recorded.
/// </summary>
internal static class LoadRun
{
    /// <summary>Pre-encoded calls cycled through by the workers; long enough that the cycle does not matter.</summary>
    private const int SequenceLength = 1 << 18;

    public static async Task<int> RunAsync(Options options)
    {
        var url = new Uri(options.Required("url"));
        var kind = options.Required("kind");
        var concurrency = Math.Max(1, options.Int("concurrency", 1));
        var connections = Math.Clamp(options.Int("connections", 1), 1, concurrency);
        var duration = TimeSpan.FromSeconds(options.Double("duration", 5));
        var warmup = TimeSpan.FromSeconds(options.Double("warmup", 1));
        var allowFallback = options.Flag("allow-fallback");
        var calls = BuildSequence(options, kind);

        // Check, through HttpClient (which reads grpc-status from the trailers), that the target answers this kind of
        // call correctly before timing anything.
        using (var checker = new H2Connection(url, TimeSpan.FromSeconds(10)))
        {
            var buffer = new byte[64 * 1024];
            var first = await checker.CallAsync(calls[0], buffer, CancellationToken.None).ConfigureAwait(false);
            if (first.GrpcStatus != 0)
            {
                await Console.Error.WriteLineAsync($"sidecar-load: {calls[0].Path} answered grpc-status {first.GrpcStatus}").ConfigureAwait(false);
                return 1;
            }

            if (!allowFallback && Requests.IsFallback(kind, Requests.Payload(buffer.AsSpan(0, Math.Min(first.BodyBytes, buffer.Length)))))
            {
                await Console.Error.WriteLineAsync($"sidecar-load: {calls[0].Path} answered from the fallback: the target does not hold the dataset").ConfigureAwait(false);
                return 1;
            }
        }

        var pool = new RawH2Connection[connections];
        try
        {
            for (var i = 0; i < connections; i++)
            {
                pool[i] = await RawH2Connection.ConnectAsync(url, CancellationToken.None).ConfigureAwait(false);
            }

            var start = Stopwatch.GetTimestamp();
            var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            var measureTo = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            // A hard stop well after the window: no loop runs unbounded even if the target stalls.
            using var hardStop = new CancellationTokenSource(warmup + duration + TimeSpan.FromSeconds(30));

            var workers = new Worker[concurrency];
            var tasks = new Task[concurrency];
            for (var w = 0; w < concurrency; w++)
            {
                workers[w] = new Worker(pool[w % connections], calls, w * (calls.Length / concurrency));
                tasks[w] = workers[w].RunAsync(measureFrom, measureTo, hardStop.Token);
            }

            await Task.WhenAll(tasks).ConfigureAwait(false);
            var sorted = LatencyRecorder.MergeSorted(workers.Select(w => w.Latencies));
            var errors = workers.Sum(w => w.Errors);
            JsonOut.Print(json =>
            {
                json.WriteString("kind", kind);
                json.WriteNumber("concurrency", concurrency);
                json.WriteNumber("connections", connections);
                json.WriteNumber("durationS", duration.TotalSeconds);
                json.WriteNumber("requests", sorted.Length);
                json.WriteNumber("errors", errors);
                json.WriteNumber("rps", Math.Round(sorted.Length / duration.TotalSeconds, 1));
                Percentiles.Write(json, sorted);
            });
            return errors == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var connection in pool)
            {
                connection?.Dispose();
            }
        }
    }

    private static Call[] BuildSequence(Options options, string kind)
    {
        if (kind == "health")
        {
            return [Requests.Build("health", string.Empty, string.Empty)];
        }

        var features = options.List("features");
        var random = new Random(options.Int("seed", 1));

        // One named customer: a server the harness did not load (--against) holds only the ids its user gives.
        if (options.Optional("customer") is { Length: > 0 } customer)
        {
            var fixedCalls = new Call[1024];
            for (var i = 0; i < fixedCalls.Length; i++)
            {
                fixedCalls[i] = Requests.Build(kind, customer, features[random.Next(features.Count)]);
            }

            return fixedCalls;
        }

        var customers = options.Int("customers", 0);
        if (customers <= 0)
        {
            throw new OptionException("--customers must be at least 1 (or --customer ID)");
        }

        var sampler = new ZipfSampler(customers, options.Double("zipf", 1.0), random);
        var calls = new Call[SequenceLength];
        for (var i = 0; i < calls.Length; i++)
        {
            calls[i] = Requests.Build(kind, Requests.CustomerId(sampler.Next()), features[random.Next(features.Count)]);
        }

        return calls;
    }

    private sealed class Worker(RawH2Connection connection, Call[] calls, int offset)
    {
        public LatencyRecorder Latencies { get; } = new();

        public long Errors { get; private set; }

        public async Task RunAsync(long measureFrom, long measureTo, CancellationToken hardStop)
        {
            // Yield first so all workers start together rather than one after another on the caller's thread.
            await Task.Yield();
            var next = offset;
            while (!hardStop.IsCancellationRequested)
            {
                var call = calls[next];
                next = next + 1 == calls.Length ? 0 : next + 1;
                var sent = Stopwatch.GetTimestamp();
                if (sent >= measureTo)
                {
                    return;
                }

                CallResult result;
                try
                {
                    result = await connection.CallAsync(call, null, hardStop).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException)
                {
                    result = new CallResult(-3, 0);
                    if (hardStop.IsCancellationRequested || ex is IOException)
                    {
                        Errors++;
                        return;
                    }
                }

                var answered = Stopwatch.GetTimestamp();
                if (sent >= measureFrom && answered <= measureTo)
                {
                    if (result.GrpcStatus == 0)
                    {
                        Latencies.Add(answered - sent);
                    }
                    else
                    {
                        Errors++;
                    }
                }
            }
        }
    }
}

/// <summary>
/// Ranks 1..N with probability proportional to 1/rank^s (inverse CDF by binary search), mapped to customer indexes
/// through a seeded permutation so the hot customers are spread over the id space. s = 0 is uniform.
/// </summary>
internal sealed class ZipfSampler
{
    private readonly double[] _cdf;
    private readonly int[] _customerOfRank;
    private readonly Random _random;
    private readonly int _count;

    public ZipfSampler(int count, double exponent, Random random)
    {
        _count = count;
        _random = random;
        _customerOfRank = Enumerable.Range(0, count).ToArray();
        random.Shuffle(_customerOfRank);
        if (exponent == 0)
        {
            _cdf = [];
            return;
        }

        _cdf = new double[count];
        var sum = 0.0;
        for (var rank = 1; rank <= count; rank++)
        {
            sum += 1.0 / Math.Pow(rank, exponent);
            _cdf[rank - 1] = sum;
        }

        for (var i = 0; i < count; i++)
        {
            _cdf[i] /= sum;
        }
    }

    public int Next()
    {
        if (_cdf.Length == 0)
        {
            return _random.Next(_count);
        }

        var index = Array.BinarySearch(_cdf, _random.NextDouble());
        return _customerOfRank[index >= 0 ? index : Math.Min(~index, _count - 1)];
    }
}
