using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sidecar.LoadClient;

/// <summary>
/// Every latency of a run (Stopwatch ticks), recorded per worker without sharing and merged into one sorted array at
/// the end: percentiles are exact, not bucketed.
/// </summary>
internal sealed class LatencyRecorder
{
    private long[] _ticks = new long[4096];

    public int Count { get; private set; }

    public void Add(long ticks)
    {
        if (Count == _ticks.Length)
        {
            Array.Resize(ref _ticks, _ticks.Length * 2);
        }

        _ticks[Count++] = ticks;
    }

    public static long[] MergeSorted(IEnumerable<LatencyRecorder> recorders)
    {
        var all = recorders.ToList();
        var merged = new long[all.Sum(r => r.Count)];
        var at = 0;
        foreach (var r in all)
        {
            Array.Copy(r._ticks, 0, merged, at, r.Count);
            at += r.Count;
        }

        Array.Sort(merged);
        return merged;
    }
}

internal static class Percentiles
{
    public static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    /// <summary>The nearest-rank percentile of sorted samples, in microseconds (0 when there are none).</summary>
    public static double At(long[] sorted, double quantile)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }

        var rank = (int)Math.Ceiling(quantile * sorted.Length) - 1;
        return Micros(sorted[Math.Clamp(rank, 0, sorted.Length - 1)]);
    }

    public static void Write(Utf8JsonWriter json, long[] sorted)
    {
        json.WriteNumber("p50Us", Round(At(sorted, 0.50)));
        json.WriteNumber("p90Us", Round(At(sorted, 0.90)));
        json.WriteNumber("p99Us", Round(At(sorted, 0.99)));
        json.WriteNumber("p999Us", Round(At(sorted, 0.999)));
        json.WriteNumber("maxUs", Round(sorted.Length == 0 ? 0 : Micros(sorted[^1])));
        json.WriteNumber("meanUs", Round(sorted.Length == 0 ? 0 : Micros((long)sorted.Average())));
    }

    public static double Round(double value) => Math.Round(value, 1);
}

/// <summary>One JSON object on stdout: the machine-readable result the harness parses.</summary>
internal static class JsonOut
{
    public static void Print(Action<Utf8JsonWriter> body)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var json = new Utf8JsonWriter(stdout, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        }

        stdout.WriteByte((byte)'\n');
    }
}
