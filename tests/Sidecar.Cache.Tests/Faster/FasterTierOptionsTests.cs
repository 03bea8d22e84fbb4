using Sidecar.Cache.Faster;

namespace Sidecar.Cache.Tests.Faster;

public sealed class FasterTierOptionsTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void FromCacheBudget_OneGiB_DerivesDocumentedSizes()
    {
        var options = FasterTierOptions.FromCacheBudget("/data", 1024 * MiB);

        Assert.Equal("/data", options.Directory);
        Assert.Equal(256 * MiB, options.EffectiveMemoryBytes);
        Assert.Equal(4 * MiB, options.EffectivePageBytes);
        Assert.Equal(1L << 18, options.EffectiveMaxIndexBuckets);
        Assert.Equal(2048 * MiB, options.EffectiveMaxDiskBytes);
        Assert.Equal(256 * MiB, options.EffectiveSegmentBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), options.CheckpointInterval);
    }

    [Fact]
    public void FromCacheBudget_TinyBudget_ClampsToMinimums()
    {
        var options = FasterTierOptions.FromCacheBudget("/data", 1 * MiB);

        Assert.Equal(4 * MiB, options.EffectiveMemoryBytes);
        Assert.Equal(1 * MiB, options.EffectivePageBytes);
        Assert.Equal(1L << 14, options.EffectiveMaxIndexBuckets);
        Assert.Equal(64 * MiB, options.EffectiveMaxDiskBytes);
        Assert.Equal(8 * MiB, options.EffectiveSegmentBytes);
    }

    [Fact]
    public void FromCacheBudget_HugeBudget_ClampsToMaximums()
    {
        var options = FasterTierOptions.FromCacheBudget("/data", 64L * 1024 * MiB);

        Assert.Equal(1024 * MiB, options.EffectiveMemoryBytes);
        Assert.Equal(4 * MiB, options.EffectivePageBytes);
        Assert.Equal(1L << 19, options.EffectiveMaxIndexBuckets);
    }

    [Fact]
    public void FromCacheBudget_NonPowerOfTwoBudget_RoundsMemoryDown()
    {
        var options = FasterTierOptions.FromCacheBudget("/data", 300 * MiB);

        Assert.Equal(64 * MiB, options.EffectiveMemoryBytes); // 75 MiB rounded down
        Assert.True(options.EffectiveMemoryBytes <= 300 * MiB / 4);
    }

    [Fact]
    public void Defaults_WithoutBudget_AreSmallAndExplicit()
    {
        var options = new FasterTierOptions { Directory = "/data" };

        Assert.Equal(16 * MiB, options.EffectiveMemoryBytes);
        Assert.Equal(1 * MiB, options.EffectivePageBytes);
        Assert.Equal(1L << 14, options.EffectiveMaxIndexBuckets);
        Assert.Equal(128 * MiB, options.EffectiveMaxDiskBytes);
    }

    [Fact]
    public void FromCacheBudget_BadArguments_Throw()
    {
        Assert.Throws<ArgumentException>(() => FasterTierOptions.FromCacheBudget(" ", 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => FasterTierOptions.FromCacheBudget("/data", 0));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2 * 24 * 3600)]
    public void Validate_CheckpointIntervalOutOfRange_ThrowsNamingIt(int seconds)
    {
        var options = new FasterTierOptions { Directory = "/data", CheckpointInterval = TimeSpan.FromSeconds(seconds) };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("CheckpointInterval", ex.Message, StringComparison.Ordinal);
    }
}
