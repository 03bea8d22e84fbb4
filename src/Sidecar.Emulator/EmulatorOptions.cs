using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;

namespace Sidecar.Emulator;

/// <summary>How an <see cref="EmulatorServer"/> starts.</summary>
public sealed record EmulatorOptions
{
    /// <summary>The server API key every Edge, GraphQL and WebSocket client must present.</summary>
    public string ApiKey { get; init; } = "emulator-key";

    /// <summary>A JSON file in the <see cref="EntitlementsFile"/> format (like <c>samples/entitlements.json</c>).</summary>
    public string? FixturePath { get; init; }

    /// <summary>An in-memory fixture; wins over <see cref="FixturePath"/> when both are set.</summary>
    public EntitlementsFile? Fixture { get; init; }

    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="EmulatorServer.BaseUrl"/>).</summary>
    public int Port { get; init; }

    /// <summary>Address to listen on: an IP literal or <c>localhost</c>.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Added before every Edge answer (a runtime fault's <c>edgeLatencyMs</c> replaces it while set).</summary>
    public TimeSpan EdgeLatency { get; init; } = TimeSpan.Zero;

    /// <summary>Clock for timestamps, usage periods, latency and the WebSocket init timeout.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>graphql-transport-ws: a socket that has not sent <c>connection_init</c> by then is closed with 4408.</summary>
    public TimeSpan ConnectionInitTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Logging setup; null means silent (the right default inside another project's tests).</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }
}
