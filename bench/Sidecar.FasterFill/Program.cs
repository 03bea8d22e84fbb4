using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Cache.Faster;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

// sidecar-faster-fill DIR CUSTOMERS [FEATURES] [CACHE_MAX_SIZE_BYTES]
// Writes CUSTOMERS snapshots (customer-000000 …) of FEATURES entitlements each into the FASTER tier at DIR, sized as
// the sidecar sizes it, then checkpoints and closes — exactly what a sidecar leaves behind after a graceful stop.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: sidecar-faster-fill DIR CUSTOMERS [FEATURES=5] [CACHE_MAX_SIZE_BYTES=1073741824]");
    return 2;
}

var dir = Path.GetFullPath(args[0]);
var customers = int.Parse(args[1], CultureInfo.InvariantCulture);
var features = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
var budget = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : 1L << 30;
var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

// The sidecar gives FASTER 40 % of CACHE_MAX_SIZE_BYTES (SidecarSettings.FasterShare).
var options = FasterTierOptions.FromCacheBudget(dir, (long)(budget * 0.4));
var clock = Stopwatch.StartNew();
await using (var tier = await FasterTier.OpenAsync(options, NullLogger.Instance, TimeProvider.System, CancellationToken.None))
{
    var batch = new List<Task>(256);
    for (var i = 0; i < customers; i++)
    {
        batch.Add(tier.WriteAsync(Snapshot(i), CancellationToken.None).AsTask());
        if (batch.Count == batch.Capacity)
        {
            await Task.WhenAll(batch);
            batch.Clear();
        }
    }

    await Task.WhenAll(batch);
    Console.WriteLine($"wrote {customers} customers x {features} features in {clock.Elapsed.TotalSeconds:0.0} s");
}

var bytes = new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
Console.WriteLine($"checkpointed and closed after {clock.Elapsed.TotalSeconds:0.0} s; {dir} holds {bytes / (1024.0 * 1024):0.0} MiB");
return 0;

CustomerSnapshot Snapshot(int i)
{
    var list = new FeatureEntitlement[features];
    for (var f = 0; f < features; f++)
    {
        list[f] = (f % 4) switch
        {
            0 => new FeatureEntitlement { FeatureId = $"feature-{f}", FeatureType = FeatureType.Boolean, EntitlementUpdatedAt = now },
            1 => new FeatureEntitlement { FeatureId = $"feature-{f}", FeatureType = FeatureType.Number, MeterType = MeterType.None, UsageLimit = i % 100, EntitlementUpdatedAt = now },
            2 => new FeatureEntitlement
            {
                FeatureId = $"feature-{f}", FeatureType = FeatureType.Number, MeterType = MeterType.Incremental, UsageLimit = 1000, CurrentUsage = i % 1000,
                ResetPeriod = EntitlementResetPeriod.Month, UsagePeriodAnchor = now - 86_400_000, UsagePeriodStart = now - 86_400_000,
                UsagePeriodEnd = now + (29L * 86_400_000), EntitlementUpdatedAt = now, UsageUpdatedAt = now,
            },
            _ => new FeatureEntitlement { FeatureId = $"feature-{f}", FeatureType = FeatureType.Enum, EnumValues = ["us-east-1", "eu-west-1"], EntitlementUpdatedAt = now },
        };
    }

    return new CustomerSnapshot(new CustomerKey($"customer-{i:D6}", null), null, list, [], now, now);
}
