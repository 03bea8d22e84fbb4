using Sidecar.Emulator;

namespace Sidecar.Testing;

/// <summary>
/// The local Stigg emulator (Edge, GraphQL, WebSocket, admin API) on samples/entitlements.json, bound by Kestrel to
/// a loopback port of its own choosing (port 0: no race). Use <see cref="StartSampleAsync"/> for an emulator per
/// test (the state and counters a test changes are its own), or the class as an <c>IClassFixture</c> for tests that
/// only read.
/// </summary>
public sealed class EmulatorFixture : IAsyncLifetime
{
    /// <summary>The emulator's default API key (what the sidecar must send as SERVER_API_KEY).</summary>
    public const string DefaultApiKey = "emulator-key";

    private EmulatorServer? _server;

    public EmulatorServer Server => _server ?? throw new InvalidOperationException("The fixture is not initialised.");

    /// <summary>Options for an emulator serving the sample file with <paramref name="apiKey"/> on <paramref name="time"/>.</summary>
    public static EmulatorOptions SampleOptions(string apiKey = DefaultApiKey, TimeProvider? time = null) => new()
    {
        ApiKey = apiKey,
        FixturePath = RepoPaths.SampleEntitlements,
        Time = time ?? TimeProvider.System,
    };

    /// <summary>Starts an emulator serving the sample file; dispose it when the test ends.</summary>
    public static Task<EmulatorServer> StartSampleAsync(string apiKey = DefaultApiKey, TimeProvider? time = null) =>
        EmulatorServer.StartAsync(SampleOptions(apiKey, time));

    public async Task InitializeAsync() => _server = await StartSampleAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
