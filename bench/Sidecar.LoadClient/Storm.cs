using System.Diagnostics;
using System.Text.Json;

namespace Sidecar.LoadClient;

/// <summary>
/// The miss storm: C checks released at once over D customers the sidecar has never seen (C/D concurrent checks per
/// customer), against a sidecar in upstream mode. The emulator's counters say how many upstream calls the storm
/// caused; single-flight should make that one per distinct customer.
/// </summary>
internal static class Storm
{
    public static async Task<int> RunAsync(Options options)
    {
        var url = new Uri(options.Required("url"));
        var admin = new Uri(options.Required("admin"));
        var first = options.Int("customers-from", 0);
        var distinct = Math.Max(1, options.Int("distinct", 100));
        var checks = Math.Max(distinct, options.Int("checks", 1000));
        var feature = options.Required("feature");
        var timeout = TimeSpan.FromSeconds(options.Double("timeout", 60));

        var calls = new Call[checks];
        for (var i = 0; i < checks; i++)
        {
            calls[i] = Requests.Build("boolean", Requests.CustomerId(first + (i % distinct)), feature);
        }

        using var adminClient = new HttpClient { BaseAddress = admin, Timeout = TimeSpan.FromSeconds(10) };
        using var deadline = new CancellationTokenSource(timeout);
        using var connection = await RawH2Connection.ConnectAsync(url, deadline.Token).ConfigureAwait(false);

        // Open the connection with a call that touches no customer, then zero the emulator's counters.
        var health = await connection.CallAsync(Requests.Build("health", string.Empty, string.Empty), new byte[256], deadline.Token).ConfigureAwait(false);
        if (health.GrpcStatus != 0)
        {
            await Console.Error.WriteLineAsync("sidecar-load: the health check failed").ConfigureAwait(false);
            return 1;
        }

        using (var reset = await adminClient.PostAsync(new Uri("/admin/counters/reset", UriKind.Relative), null, deadline.Token).ConfigureAwait(false))
        {
            reset.EnsureSuccessStatusCode();
        }

        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var latencies = new long[checks];
        var statuses = new int[checks];
        var fallbacks = 0;
        var tasks = new Task[checks];
        for (var i = 0; i < checks; i++)
        {
            var index = i;
            tasks[i] = Task.Run(async () =>
            {
                var buffer = new byte[4096];
                await go.Task.ConfigureAwait(false);
                var sent = Stopwatch.GetTimestamp();
                CallResult result;
                try
                {
                    result = await connection.CallAsync(calls[index], buffer, deadline.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException)
                {
                    result = new CallResult(-3, 0);
                }

                latencies[index] = Stopwatch.GetTimestamp() - sent;
                statuses[index] = result.GrpcStatus;
                if (result.GrpcStatus == 0 && Requests.IsFallback("boolean", Requests.Payload(buffer.AsSpan(0, Math.Min(result.BodyBytes, buffer.Length)))))
                {
                    Interlocked.Increment(ref fallbacks);
                }
            });
        }

        var started = Stopwatch.GetTimestamp();
        go.SetResult();
        await Task.WhenAll(tasks).ConfigureAwait(false);
        var wall = Stopwatch.GetElapsedTime(started);

        using var counters = JsonDocument.Parse(await adminClient.GetStringAsync(new Uri("/admin/counters", UriKind.Relative), deadline.Token).ConfigureAwait(false));
        var edge = counters.RootElement.GetProperty("edgeRequests").GetInt64();
        var graphQl = counters.RootElement.GetProperty("graphQlRequests").GetInt64();
        var customersCalled = counters.RootElement.GetProperty("edgeRequestsByCustomer").EnumerateObject().Count();
        var errors = statuses.Count(s => s != 0);
        Array.Sort(latencies);
        JsonOut.Print(json =>
        {
            json.WriteNumber("checks", checks);
            json.WriteNumber("distinctCustomers", distinct);
            json.WriteNumber("edgeCalls", edge);
            json.WriteNumber("graphQlCalls", graphQl);
            json.WriteNumber("upstreamCalls", edge + graphQl);
            json.WriteNumber("customersFetched", customersCalled);
            json.WriteNumber("callsPerCustomer", Math.Round((double)(edge + graphQl) / distinct, 3));
            json.WriteNumber("errors", errors);
            json.WriteNumber("fallbacks", fallbacks);
            json.WriteNumber("wallMs", Math.Round(wall.TotalMilliseconds, 1));
            Percentiles.Write(json, latencies);
        });
        return errors == 0 ? 0 : 1;
    }
}
