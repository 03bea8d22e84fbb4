using Sidecar.Core.Model;

namespace Sidecar.Upstream;

/// <summary>
/// Where Stigg is and how patiently to talk to it. Defaults follow the Node server SDK the Stigg Sidecar bundles
/// (stigg-behaviour §1.1); the retry knobs are ours (see <see cref="RetryBaseDelay"/>).
/// </summary>
public sealed record UpstreamOptions
{
    private static readonly string ProcessInstanceId = NanoId.New();

    /// <summary>The server API key (<c>SERVER_API_KEY</c>). Sent as <c>X-API-KEY</c>; never logged.</summary>
    public required string ApiKey { get; init; }

    /// <summary>GraphQL API base; requests go to <c>{ApiUrl}/graphql</c>.</summary>
    public Uri ApiUrl { get; init; } = new("https://api.stigg.io");

    /// <summary>When false every entitlements read goes to GraphQL.</summary>
    public bool EdgeEnabled { get; init; } = true;

    public Uri EdgeApiUrl { get; init; } = new("https://edge.api.stigg.io");

    /// <summary>Whether the host runs the <see cref="EventStream"/> at all (the stream itself does not read it).</summary>
    public bool WsEnabled { get; init; } = true;

    /// <summary>WebSocket base; the socket opens at <c>{WsUrl}/graphql</c> (http/https are turned into ws/wss).</summary>
    public Uri WsUrl { get; init; } = new("wss://api.stigg.io");

    /// <summary>Total budget of one entitlements fetch, every attempt and back-off delay included (Stigg: 10 s).</summary>
    public TimeSpan EntitlementsTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Cap on a single entitlements attempt, so a request stuck on a dead connection is retried on a fresh one while
    /// budget remains. The attempt also never outlives <see cref="EntitlementsTimeout"/>.
    /// </summary>
    public TimeSpan EntitlementsAttemptTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Total budget of any other request (usage, events, SDK configuration), retries included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// First retry delay; retry n waits <c>RetryBaseDelay × 2^(n-1)</c> plus up to 20 % jitter, capped at
    /// <see cref="RetryMaxDelay"/>. With the defaults (250 ms, 3 retries) the back-off adds at most ~2.1 s, so all
    /// three retries fit in the 10 s entitlements budget even after a slow first attempt. Stigg's own axios-retry
    /// waits 4/8/16 s, which means at most one retry ever happens inside 10 s.
    /// </summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Retries after the first attempt (so at most <c>MaxRetries + 1</c> attempts), budget permitting.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>graphql-transport-ws keep-alive: a <c>ping</c> every interval; no <c>pong</c> by the next one = dead socket.</summary>
    public TimeSpan WsPingInterval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan WsReconnectMin { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan WsReconnectMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the socket may take to open and be acknowledged (<c>connection_ack</c>).</summary>
    public TimeSpan WsConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>X-SDK-INSTANCE-ID</c>: a 21-character nanoid, random per process (as the SDK's per-initialize id).</summary>
    public string SdkInstanceId { get; init; } = ProcessInstanceId;

    /// <summary>The <c>source</c> header. The Sidecar bundles the Node SDK, so Stigg sees <c>NODE_SERVER_SDK</c>.</summary>
    public string Source { get; init; } = "NODE_SERVER_SDK";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that cannot work.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(ApiKey, nameof(ApiKey));
        ArgumentNullException.ThrowIfNull(ApiUrl, nameof(ApiUrl));
        ArgumentNullException.ThrowIfNull(EdgeApiUrl, nameof(EdgeApiUrl));
        ArgumentNullException.ThrowIfNull(WsUrl, nameof(WsUrl));
        Positive(EntitlementsTimeout, nameof(EntitlementsTimeout));
        Positive(EntitlementsAttemptTimeout, nameof(EntitlementsAttemptTimeout));
        Positive(RequestTimeout, nameof(RequestTimeout));
        Positive(WsPingInterval, nameof(WsPingInterval));
        Positive(WsReconnectMin, nameof(WsReconnectMin));
        Positive(WsConnectTimeout, nameof(WsConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryBaseDelay, TimeSpan.Zero, nameof(RetryBaseDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMaxDelay, RetryBaseDelay, nameof(RetryMaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(WsReconnectMax, WsReconnectMin, nameof(WsReconnectMax));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries, nameof(MaxRetries));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxRetries, 10, nameof(MaxRetries));

        static void Positive(TimeSpan value, string name) => ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, name);
    }
}
