using Sidecar.Core.Model;

namespace Sidecar.Cache;

/// <summary>
/// The absolute usage a batch of reports leaves behind when it is counted locally (a local file, or an estimate while
/// Stigg is down): DELTA adds to the usage held — or to what an earlier report of the same batch left — and SET
/// replaces it. Without it, two reports for one feature in one bulk call would each start from the held value.
/// </summary>
public sealed class UsageTally
{
    private Dictionary<(CustomerKey Key, string FeatureId), double>? _running;

    /// <summary>The usage after <paramref name="report"/>; <paramref name="held"/> is what the cache holds.</summary>
    public double Apply(CustomerKey key, UsageReport report, double held)
    {
        ArgumentNullException.ThrowIfNull(report);
        _running ??= [];
        if (_running.TryGetValue((key, report.FeatureId), out var earlier))
        {
            held = earlier;
        }

        var usage = report.UpdateBehavior == UsageUpdateBehavior.Set ? report.Value : held + report.Value;
        _running[(key, report.FeatureId)] = usage;
        return usage;
    }
}
