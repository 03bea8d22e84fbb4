using Sidecar.Emulator;
using Sidecar.Testing;

namespace Sidecar.Upstream.Tests;

internal static class TestSupport
{
    public const string ApiKey = "test-api-key-5f2c9a";

    /// <summary>How long a test waits for a signal before failing (not a timing assertion: a hang guard).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    public static Task<EmulatorServer> StartEmulatorAsync() => EmulatorFixture.StartSampleAsync(ApiKey);

    /// <summary>Options aimed at the emulator, with budgets and back-off small enough for a quick suite.</summary>
    public static UpstreamOptions OptionsFor(EmulatorServer emulator, string? apiKey = null) => new()
    {
        ApiKey = apiKey ?? ApiKey,
        ApiUrl = emulator.BaseUrl,
        EdgeApiUrl = emulator.BaseUrl,
        WsUrl = emulator.WsUrl,
        EntitlementsTimeout = TimeSpan.FromSeconds(5),
        EntitlementsAttemptTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromSeconds(10),
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(100),
        WsPingInterval = TimeSpan.FromSeconds(5),
        WsReconnectMin = TimeSpan.FromMilliseconds(50),
        WsReconnectMax = TimeSpan.FromMilliseconds(300),
        WsConnectTimeout = TimeSpan.FromSeconds(5),
    };

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Patience);

    public static Task Within(this Task task) => task.WaitAsync(Patience);
}
