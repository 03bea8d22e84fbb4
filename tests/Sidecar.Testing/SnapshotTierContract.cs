using Sidecar.Cache;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Testing;

/// <summary>
/// What every snapshot tier promises (<see cref="ISnapshotTier"/>, DESIGN decision 2), written once and run against
/// each tier by a derived test class that says how to open one. Each test gets a fresh, empty tier logging into
/// <see cref="Logs"/>; an unexpected Error or Critical line fails the test when it ends. Observations go through
/// <see cref="ISnapshotTier.ReadAsync"/> only, so a tier's storage layout stays its own tests' business.
/// </summary>
public abstract class SnapshotTierContract : IAsyncLifetime
{
    private const long Version = 1_746_000_000_000;
    private static readonly CustomerKey Acme = new("acme", null);
    private ISnapshotTier? _tier;

    /// <summary>The test's log record; disposing it (at the end of the test) asserts that no unexpected error was logged.</summary>
    protected VerifyNoErrorsScope Logs { get; } = new();

    protected ISnapshotTier Tier => _tier ?? throw new InvalidOperationException("The tier is not open.");

    /// <summary>The event a tier logs when it drops an entitlements write older than what it holds; null when it logs none.</summary>
    protected virtual int? OlderEntitlementsDroppedEvent => null;

    /// <summary>The event a tier logs when it skips usage for a customer it does not hold; null when it logs none.</summary>
    protected virtual int? UsageForUnknownCustomerSkippedEvent => null;

    /// <summary>
    /// Whether a read gives back the <see cref="CustomerSnapshot.FetchedAt"/> that was written (Redis answers the
    /// time of the read instead) and the usage timestamp of features without usage (Redis keeps usage keys only for
    /// metered features). When true, snapshots read back must equal what was written in every field.
    /// </summary>
    protected virtual bool StoresEverySnapshotField => true;

    /// <summary>Opens a fresh, empty tier that logs to <paramref name="logger"/>.</summary>
    protected abstract Task<ISnapshotTier> OpenTierAsync(CapturingLogger logger);

    /// <summary>Releases what <see cref="OpenTierAsync"/> set up besides the tier (after the tier is disposed).</summary>
    protected virtual ValueTask DisposeResourcesAsync() => ValueTask.CompletedTask;

    public virtual async Task InitializeAsync() => _tier = await OpenTierAsync(Logs.Logger);

    public virtual async Task DisposeAsync()
    {
        if (_tier is not null)
        {
            await _tier.DisposeAsync();
        }

        await DisposeResourcesAsync();
        Logs.Dispose();
    }

    // ---- Reads and writes ---------------------------------------------------------------------------------------

    [Fact]
    public async Task ReadAsync_NothingStored_IsMiss()
    {
        Assert.Null(await ReadAsync(Acme));
        Logs.Logger.AssertNoWarningsOrErrors();
    }

    [Fact]
    public async Task WriteAsync_ThenReadAsync_ReturnsTheSnapshot()
    {
        var written = Sample(Acme, Version);

        await WriteAsync(written);

        AssertSameData(written, await ReadAsync(Acme));
    }

    [Fact]
    public async Task WriteAsync_CustomersAndResources_AreKeptApart()
    {
        var global = Sample(Acme, Version, apiCalls: 1);
        var resource = Sample(new CustomerKey("acme", "ws-1"), Version, apiCalls: 2);
        var other = Sample(new CustomerKey("globex", null), Version, apiCalls: 3);

        await WriteAsync(global);
        await WriteAsync(resource);
        await WriteAsync(other);

        AssertSameData(global, await ReadAsync(global.Key));
        AssertSameData(resource, await ReadAsync(resource.Key));
        AssertSameData(other, await ReadAsync(other.Key));
        Assert.Null(await ReadAsync(new CustomerKey("acme", "other")));
        Assert.Null(await ReadAsync(new CustomerKey("initech", null)));
    }

    [Fact]
    public async Task WriteAsync_CustomerLevelReason_IsStoredWithoutEntitlements()
    {
        await WriteAsync(new CustomerSnapshot(Acme, AccessDeniedReason.CustomerIsArchived, [], [], 0, UsageTs));

        var read = await ReadAsync(Acme);

        Assert.NotNull(read);
        Assert.Equal(AccessDeniedReason.CustomerIsArchived, read.CustomerReason);
        Assert.Empty(read.Features);
        Assert.Empty(read.Credits);
    }

    // ---- Entitlements guards (DESIGN decision 2) ----------------------------------------------------------------

    [Fact]
    public async Task WriteAsync_OlderEntitlements_IsDroppedAndTheStoredSnapshotKept()
    {
        await WriteAsync(Sample(Acme, 2000, apiCalls: 500, usageTs: 3000));

        await WriteAsync(Without("feature-region", Sample(Acme, 1000, apiCalls: 100, usageTs: 2000)));

        var read = await ReadAsync(Acme);
        Assert.Equal(2000, read!.EntitlementsTimestamp);
        Assert.Equal(4, read.Features.Count);
        Assert.Equal(500, ApiCalls(read).CurrentUsage);
        Assert.Equal(3000, ApiCalls(read).UsageUpdatedAt);
        if (OlderEntitlementsDroppedEvent is { } dropped)
        {
            Assert.True(Logs.Logger.Has(dropped), $"event {dropped} (older write dropped) was not logged");
        }
    }

    [Fact]
    public async Task WriteAsync_NewerEntitlements_ReplacesTheStoredSnapshot()
    {
        await WriteAsync(Sample(Acme, 1000, apiCalls: 100, usageTs: 2000));

        var newer = Without("feature-region", Sample(Acme, 3000, apiCalls: 700, usageTs: 4000));
        await WriteAsync(newer);

        AssertSameData(newer, await ReadAsync(Acme));
    }

    [Fact]
    public async Task WriteAsync_SameEntitlementsTimestamp_ReplacesTheStoredSnapshot()
    {
        await WriteAsync(Sample(Acme, 1000, apiCalls: 100, usageTs: 2000));

        // The upstream re-confirms (or re-sends) the version it already gave, later: what it says now is stored.
        var again = Without("feature-region", Sample(Acme, 1000, apiCalls: 150, usageTs: 2000, fetchedAt: UsageTs + 9000));
        await WriteAsync(again);

        AssertSameData(again, await ReadAsync(Acme));
    }

    [Fact]
    public async Task WriteAsync_EpochZeroList_AlwaysWins()
    {
        await WriteAsync(Sample(Acme, 5000));

        // An emptied list (stigg-behaviour §3.3: customer deleted, subscription gone) carries epoch 0, which always wins.
        await WriteAsync(new CustomerSnapshot(Acme, AccessDeniedReason.NoActiveSubscription, [], [], 0, UsageTs));

        var read = await ReadAsync(Acme);
        Assert.NotNull(read);
        Assert.Equal(0, read.EntitlementsTimestamp);
        Assert.Empty(read.Features);
        Assert.Equal(AccessDeniedReason.NoActiveSubscription, read.CustomerReason);
    }

    // ---- Usage: read-modify-write of one stored customer --------------------------------------------------------

    [Fact]
    public async Task WriteUsageAsync_NewerUsage_IsAppliedAndTheRestKept()
    {
        var stored = Sample(Acme, Version);
        await WriteAsync(stored);
        const long NextStart = JuneFirst;
        const long NextEnd = JuneFirst + (30L * 24 * 3600 * 1000);

        await WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 900, NextStart, NextEnd, UsageTs + 10));

        var read = await ReadAsync(Acme);
        var api = ApiCalls(read);
        Assert.Equal(900, api.CurrentUsage);
        Assert.Equal(UsageTs + 10, api.UsageUpdatedAt);
        Assert.Equal(NextStart, api.UsagePeriodStart);
        Assert.Equal(NextEnd, api.UsagePeriodEnd);
        Assert.Equal(Version, read!.EntitlementsTimestamp);
        AssertSameData(stored, Without("feature-api-calls", read), ignoreFeature: "feature-api-calls");
    }

    [Fact]
    public async Task WriteUsageAsync_OlderUsage_IsDropped()
    {
        await WriteAsync(Sample(Acme, Version));

        await WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 42, null, null, UsageTs - 1));
        var afterOlderThanStored = ApiCalls(await ReadAsync(Acme));
        await WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 900, MayFirst, JuneFirst, UsageTs + 10));
        await WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 100, MayFirst, JuneFirst, UsageTs + 5));

        Assert.Equal(250, afterOlderThanStored.CurrentUsage);
        Assert.Equal(UsageTs, afterOlderThanStored.UsageUpdatedAt);
        var api = ApiCalls(await ReadAsync(Acme));
        Assert.Equal(900, api.CurrentUsage);
        Assert.Equal(UsageTs + 10, api.UsageUpdatedAt);
    }

    [Fact]
    public async Task WriteUsageAsync_NullPeriod_KeepsTheStoredPeriod()
    {
        await WriteAsync(Sample(Acme, Version));

        await WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 42, null, null, UsageTs + 1));

        var api = ApiCalls(await ReadAsync(Acme));
        Assert.Equal(42, api.CurrentUsage);
        Assert.Equal(MayFirst, api.UsagePeriodStart);
        Assert.Equal(JuneFirst, api.UsagePeriodEnd);
    }

    [Fact]
    public async Task WriteUsageAsync_CreditUsage_IsApplied()
    {
        await WriteAsync(Sample(Acme, Version));

        await WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Credit, "ai-credits", 4999, null, null, UsageTs + 1));

        var credit = Assert.Single((await ReadAsync(Acme))!.Credits);
        Assert.Equal(4999, credit.CurrentUsage);
        Assert.Equal(1, credit.Remaining);
        Assert.Equal(UsageTs + 1, credit.UsageUpdatedAt);
        Assert.Equal(JuneFirst, credit.UsagePeriodEnd);
    }

    [Fact]
    public async Task WriteUsageAsync_UnknownCustomer_IsSkipped()
    {
        var ghost = new CustomerKey("ghost", null);

        await WriteUsageAsync(ghost, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 10, null, null, UsageTs));

        Assert.Null(await ReadAsync(ghost));
        if (UsageForUnknownCustomerSkippedEvent is { } skipped)
        {
            Assert.True(Logs.Logger.Has(skipped), $"event {skipped} (usage for an unknown customer skipped) was not logged");
        }
    }

    [Fact]
    public async Task WriteUsageAsync_UnknownFeature_ChangesNothing()
    {
        var stored = Sample(Acme, Version);
        await WriteAsync(stored);

        await WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "no-such-feature", 1, null, null, UsageTs + 1));

        AssertSameData(stored, await ReadAsync(Acme));
    }

    // ---- Remove (purge events) ------------------------------------------------------------------------------

    [Fact]
    public async Task RemoveAsync_StoredCustomer_IsGoneAndAnyVersionMayBeWrittenAgain()
    {
        await WriteAsync(Sample(Acme, 100));
        await WriteAsync(Sample(new CustomerKey("globex", null), 100));

        await RemoveAsync(Acme);
        Assert.Null(await ReadAsync(Acme));
        Assert.NotNull(await ReadAsync(new CustomerKey("globex", null)));

        // A removed customer has no timestamp left to guard with: an older version may be written again.
        await WriteAsync(Sample(Acme, 50));
        Assert.Equal(50, (await ReadAsync(Acme))!.EntitlementsTimestamp);
    }

    [Fact]
    public async Task RemoveAsync_NothingStored_IsANoOp()
    {
        await RemoveAsync(Acme);

        Assert.Null(await ReadAsync(Acme));
    }

    [Fact]
    public async Task WriteUsageAsync_AfterRemove_IsSkipped()
    {
        await WriteAsync(Sample(Acme, Version));
        await RemoveAsync(Acme);

        await WriteUsageAsync(Acme, new UsageUpdate(EntitlementRefType.Feature, "feature-api-calls", 10, null, null, UsageTs + 1));

        Assert.Null(await ReadAsync(Acme));
    }

    // ---- Helpers --------------------------------------------------------------------------------------------

    protected ValueTask<CustomerSnapshot?> ReadAsync(CustomerKey key) => Tier.ReadAsync(key, CancellationToken.None);

    protected ValueTask WriteAsync(CustomerSnapshot snapshot) => Tier.WriteAsync(snapshot, CancellationToken.None);

    protected ValueTask WriteUsageAsync(CustomerKey key, UsageUpdate update) => Tier.WriteUsageAsync(key, update, CancellationToken.None);

    protected ValueTask RemoveAsync(CustomerKey key) => Tier.RemoveAsync(key, CancellationToken.None);

    private static FeatureEntitlement ApiCalls(CustomerSnapshot? snapshot)
    {
        Assert.NotNull(snapshot);
        return Assert.Single(snapshot.Features, f => f.FeatureId == "feature-api-calls");
    }

    private static CustomerSnapshot Without(string featureId, CustomerSnapshot snapshot) =>
        new(snapshot.Key, snapshot.CustomerReason, [.. snapshot.Features.Where(f => f.FeatureId != featureId)], snapshot.Credits, snapshot.EntitlementsTimestamp, snapshot.FetchedAt);

    /// <summary>
    /// Asserts that a tier gave back the data written: key, reason, version, every feature (in order) and credit,
    /// and — unless <see cref="StoresEverySnapshotField"/> is false — the fetch time and the usage timestamps of
    /// features without usage as well.
    /// </summary>
    private void AssertSameData(CustomerSnapshot expected, CustomerSnapshot? actual, string? ignoreFeature = null)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Key, actual.Key);
        Assert.Equal(expected.CustomerReason, actual.CustomerReason);
        Assert.Equal(expected.EntitlementsTimestamp, actual.EntitlementsTimestamp);
        if (StoresEverySnapshotField)
        {
            Assert.Equal(expected.FetchedAt, actual.FetchedAt);
        }

        var exact = StoresEverySnapshotField;
        var expectedFeatures = expected.Features.Where(f => f.FeatureId != ignoreFeature).ToList();
        Assert.Equal(expectedFeatures.Select(f => f.FeatureId), actual.Features.Select(f => f.FeatureId));
        for (var i = 0; i < expectedFeatures.Count; i++)
        {
            var e = expectedFeatures[i];
            var a = actual.Features[i];
            Assert.Equal(e.EnumValues, a.EnumValues);
            Assert.Equal(
                e with { EnumValues = [], UsageUpdatedAt = exact || e.IsMetered ? e.UsageUpdatedAt : 0 },
                a with { EnumValues = [], UsageUpdatedAt = exact || a.IsMetered ? a.UsageUpdatedAt : 0 });
        }

        Assert.Equal(expected.Credits, actual.Credits);
    }
}
