using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Core.Model;
using Sidecar.Upstream.Outbox;

// Usage:
//   bench <dir> [reports=2000] [writers=8]   cost per acknowledged (durable) report, 1 writer then N writers
//   append <dir> <n>                          appends n reports one by one, printing "acked <i>" after each
//   count <dir>                               opens the outbox and prints "depth <n>"
//   killtest <dir> [acks=200]                 runs "append" as a child, kill -9 after <acks> acks, reopens, checks
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: bench|append|count|killtest <dir> [...]");
    return 2;
}

var dir = args[1];
switch (args[0])
{
    case "bench":
        {
            var reports = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 2000;
            var writers = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 8;
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }

            using var outbox = UsageOutbox.Open(new UsageOutboxOptions { Directory = dir }, NullLogger.Instance);
            await AppendAsync(outbox, 50, 0); // warm-up
            var sw = Stopwatch.StartNew();
            await AppendAsync(outbox, reports, 0);
            sw.Stop();
            Console.WriteLine($"1 writer : {reports} reports in {sw.Elapsed.TotalMilliseconds:F0} ms = {sw.Elapsed.TotalMicroseconds / reports:F0} us per report (one commit each)");

            sw.Restart();
            await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() => AppendAsync(outbox, reports / writers, w))));
            sw.Stop();
            var total = reports / writers * writers;
            Console.WriteLine($"{writers} writers: {total} reports in {sw.Elapsed.TotalMilliseconds:F0} ms = {sw.Elapsed.TotalMicroseconds / total:F0} us per report (commits shared)");
            Console.WriteLine($"depth {outbox.Depth}, {outbox.SizeBytes} bytes held");
            return 0;
        }

    case "append":
        {
            var n = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
            using var outbox = UsageOutbox.Open(new UsageOutboxOptions { Directory = dir }, NullLogger.Instance);
            for (var i = 0; i < n; i++)
            {
                await outbox.AppendUsageAsync([Report(i, 0)], CancellationToken.None);
                Console.Out.WriteLine($"acked {i}");
                Console.Out.Flush();
            }

            return 0;
        }

    case "count":
        {
            using var outbox = UsageOutbox.Open(new UsageOutboxOptions { Directory = dir }, NullLogger.Instance);
            Console.WriteLine($"depth {outbox.Depth}");
            return 0;
        }

    case "killtest":
        {
            var acks = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 200;
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }

            var self = Environment.ProcessPath!;
            var childArgs = self.EndsWith("dotnet", StringComparison.Ordinal)
                ? $"\"{Path.Combine(AppContext.BaseDirectory, "Sidecar.OutboxBench.dll")}\" append \"{dir}\" 1000000"
                : $"append \"{dir}\" 1000000";
            using var child = Process.Start(new ProcessStartInfo(self, childArgs) { RedirectStandardOutput = true, UseShellExecute = false })!;
            var last = -1;
            while (child.StandardOutput.ReadLine() is { } line)
            {
                last = int.Parse(line.AsSpan(6), System.Globalization.CultureInfo.InvariantCulture);
                if (last + 1 >= acks)
                {
                    child.Kill(); // SIGKILL on Unix: no finaliser, no dispose, no flush
                    break;
                }
            }

            child.WaitForExit();
            using var outbox = UsageOutbox.Open(new UsageOutboxOptions { Directory = dir }, NullLogger.Instance);
            var ok = outbox.Depth >= last + 1;
            Console.WriteLine($"killed after {last + 1} acknowledgements; reopened depth {outbox.Depth}: {(ok ? "OK" : "LOST ACKNOWLEDGED REPORTS")}");
            return ok ? 0 : 1;
        }

    default:
        Console.Error.WriteLine("unknown mode " + args[0]);
        return 2;
}

static async Task AppendAsync(UsageOutbox outbox, int count, int writer)
{
    for (var i = 0; i < count; i++)
    {
        await outbox.AppendUsageAsync([Report(i, writer)], CancellationToken.None);
    }
}

static UsageReport Report(int i, int writer) => new()
{
    CustomerId = "customer-" + (i % 100),
    FeatureId = "feature-api-calls",
    Value = 1,
    Dimensions = new Dictionary<string, object?> { ["region"] = "eu", ["writer"] = writer },
};
