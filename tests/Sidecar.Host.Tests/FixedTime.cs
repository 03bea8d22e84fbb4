namespace Sidecar.Host.Tests;

/// <summary>A clock that stands still (or moves when told), so answers that depend on "now" are deterministic.</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    private long _ticks = now.UtcTicks;

    /// <summary>Noon on the day the sample file describes: inside every sample usage period.</summary>
    public static DateTimeOffset SampleNow { get; } = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
