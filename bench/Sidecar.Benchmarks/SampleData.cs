using System.Text.Json;
using Sidecar.Core.Json;
using Sidecar.Core.Model;

namespace Sidecar.Benchmarks;

/// <summary>Realistic inputs: the sample fixture's customers, parsed and mapped as the sidecar does it.</summary>
internal static class SampleData
{
    /// <summary>Mid-period for the sample's monthly meters, so no rollover happens on the measured path.</summary>
    public static readonly long NowMs = new DateTimeOffset(2026, 11, 15, 12, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static readonly Lazy<EntitlementsFile> File = new(Load);

    /// <summary>The sample customer with one entitlement of every type (boolean, numeric, metered, enum, credit).</summary>
    public static CustomerSnapshot Acme() => Snapshot("acme");

    public static EntitlementsStateDto State(string customerId) =>
        File.Value.Customers.First(c => c.CustomerId == customerId && c.ResourceId is null).EntitlementsState!;

    public static CustomerSnapshot Snapshot(string customerId) =>
        EntitlementsStateMapper.ToSnapshot(new CustomerKey(customerId, null), State(customerId), NowMs);

    /// <summary>The same plan under another customer id: builds large tiers out of one realistic customer.</summary>
    public static CustomerSnapshot SnapshotAs(string customerId, EntitlementsStateDto state) =>
        EntitlementsStateMapper.ToSnapshot(new CustomerKey(customerId, null), state, NowMs);

    public static string CustomerId(int i) => "cust-" + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);

    private static EntitlementsFile Load()
    {
        using var stream = typeof(SampleData).Assembly.GetManifestResourceStream("entitlements.json")
            ?? throw new InvalidOperationException("embedded samples/entitlements.json is missing");
        return JsonSerializer.Deserialize(stream, CoreJsonContext.Default.EntitlementsFile)
            ?? throw new InvalidOperationException("samples/entitlements.json holds null");
    }
}
