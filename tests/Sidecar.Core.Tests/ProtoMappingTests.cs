using Sidecar.Core.Evaluation;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

public class ProtoMappingTests
{
    [Theory]
    [InlineData(0L, 0L, 0)]
    [InlineData(1_500L, 1L, 500_000_000)]
    [InlineData(-1L, -1L, 999_000_000)]
    [InlineData(-1_500L, -2L, 500_000_000)]
    public void Timestamp_FromEpochMs_NormalisedSecondsAndNanos(long ms, long seconds, int nanos)
    {
        var ts = ProtoMapping.Timestamp(ms);

        Assert.Equal(seconds, ts.Seconds);
        Assert.Equal(nanos, ts.Nanos);
    }

    [Fact]
    public void Timestamp_MatchesWellKnownConversion()
    {
        Assert.Equal(Ts("2026-11-15T12:00:00.123Z"), ProtoMapping.Timestamp(Ms("2026-11-15T12:00:00.123Z")));
    }

    [Theory]
    [InlineData(1e12, int.MaxValue)]
    [InlineData(-1e12, int.MinValue)]
    [InlineData(double.NaN, 0)]
    [InlineData(2147483647.0, int.MaxValue)]
    public void Numeric_ExtremeLimits_Saturate(double limit, int expected)
    {
        Assert.Equal(expected, ProtoMapping.Numeric(Numeric("f", limit)).Value);
    }
}
