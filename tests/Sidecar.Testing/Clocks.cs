using Microsoft.Extensions.Time.Testing;

namespace Sidecar.Testing;

/// <summary>
/// Instants the suites agree on, and the fake clocks built on them. Every clock here is the package's
/// <see cref="FakeTimeProvider"/>: use it as is when the test drives time itself (its timers fire inside
/// <see cref="FakeTimeProvider.Advance"/>), and <see cref="FakeWallClock"/> when only the date must be fixed while
/// real network I/O runs against deadlines, back-off and injected latency.
/// </summary>
public static class Clocks
{
    /// <summary>Noon on the day samples/entitlements.json describes (2026-11-22T12:00Z): inside every sample usage period.</summary>
    public static DateTimeOffset SampleNow { get; } = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A fake clock at <see cref="SampleNow"/> whose timers fire only when the test advances it.</summary>
    public static FakeTimeProvider AtSampleNow() => new(SampleNow);

    /// <summary>A fake date at <see cref="SampleNow"/> with real timers (see <see cref="FakeWallClock"/>).</summary>
    public static FakeWallClock WallAtSampleNow() => new(SampleNow);
}

/// <summary>
/// A <see cref="FakeTimeProvider"/> whose wall clock stands still until the test moves it
/// (<see cref="FakeTimeProvider.SetUtcNow"/>, <see cref="FakeTimeProvider.Advance"/>,
/// <see cref="FakeTimeProvider.AdjustTime"/>), while timers, delays and timestamps run in real time. For tests of a
/// running server (the in-process sidecar, the emulator) whose answers depend on the date but whose timeouts,
/// retry delays and injected latency must still elapse by themselves: under a fully fake clock they never would.
/// </summary>
public sealed class FakeWallClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    public override long TimestampFrequency => System.TimestampFrequency;

    public override long GetTimestamp() => System.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        System.CreateTimer(callback, state, dueTime, period);
}
