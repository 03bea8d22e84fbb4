using Sidecar.Core.Json;
using Sidecar.Emulator;
using Sidecar.Testing;

namespace Sidecar.Host.Tests;

/// <summary>A sidecar in upstream mode against a real emulator process-in-process, both on loopback.</summary>
internal sealed class EmulatedStigg : IAsyncDisposable
{
    private EmulatedStigg(EmulatorServer emulator, SidecarHost sidecar)
    {
        Emulator = emulator;
        Sidecar = sidecar;
    }

    public EmulatorServer Emulator { get; }

    public SidecarHost Sidecar { get; }

    public static async Task<EmulatedStigg> StartAsync(
        Dictionary<string, string>? env = null,
        TimeSpan edgeLatency = default,
        string apiKey = "emulator-key",
        bool waitForEvents = true)
    {
        var time = Clocks.WallAtSampleNow();
        var emulator = await EmulatorServer.StartAsync(EmulatorFixture.SampleOptions(time: time) with { EdgeLatency = edgeLatency });
        var upstream = SidecarHost.UpstreamEnv(emulator, ("SERVER_API_KEY", apiKey));
        foreach (var (name, value) in env ?? [])
        {
            upstream[name] = value;
        }

        env = upstream;
        var sidecar = await SidecarHost.StartAsync(env, time);
        var stigg = new EmulatedStigg(emulator, sidecar);
        if (waitForEvents && sidecar.Settings.Stigg?.WsEnabled == true)
        {
            await stigg.WaitForEventStreamAsync();
        }

        return stigg;
    }

    /// <summary>The sidecar has subscribed to all three event streams (so no event can be missed from now on).</summary>
    public async Task WaitForEventStreamAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await Emulator.WaitForCountersAsync(c => c.WsSubscribers >= 3, cts.Token);
        await Eventually.ValueAsync(() => Sidecar.App.Status.Events, s => s == "connected", TimeSpan.FromSeconds(20), "the event stream to connect");
    }

    public long EdgeRequestsFor(string customer) => Emulator.Counters.EdgeRequestsByCustomer.GetValueOrDefault(customer);

    /// <summary>A copy of a customer's state from the sample, changed by <paramref name="edit"/>.</summary>
    public EntitlementsStateDto EditedState(string customer, Action<EntitlementsStateDto> edit)
    {
        var state = Emulator.GetCustomer(customer) ?? throw new InvalidOperationException("no such customer " + customer);
        edit(state);
        return state;
    }

    public async ValueTask DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        await Emulator.DisposeAsync();
    }
}
