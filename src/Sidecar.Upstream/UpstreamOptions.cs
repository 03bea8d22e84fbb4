using Sidecar.Core.Model;

namespace Sidecar.Upstream;

/// <summary>
/// Where Stigg is and how patiently to talk to it. Defaults follow the Node server SDK the Stigg Sidecar bundles
/// (stigg-behaviour §1.1); the retry, attempt-timeout and circuit-breaker knobs are ours (Polly.Core pipelines, see
/// <see cref="RetryBaseDelay"/> and <see cref="CircuitBreakerFailureRatio"/>).
/// </summary>
public sealed record UpstreamOptions
{
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

    /// <summary>
    /// Total budget of one entitlements fetch, every attempt and back-off delay included (Stigg: 10 s;
    /// <c>ENTITLEMENTS_TIMEOUT_MS</c>). The outermost timeout of the read pipeline.
    /// </summary>
    public TimeSpan EntitlementsTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Cap on a single entitlements attempt, so a request stuck on a dead (or black-holed) connection counts as a
    /// failure and is retried on a fresh one while budget remains. The attempt also never outlives
    /// <see cref="EntitlementsTimeout"/>.
    /// </summary>
    public TimeSpan EntitlementsAttemptTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Total budget of any other request (usage, events, SDK configuration), retries included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Cap on a single attempt of any other request. A usage report that gets no answer in this time counts as a
    /// failure; it is retried (with the same idempotency key) while <see cref="RequestTimeout"/> lasts.
    /// </summary>
    public TimeSpan RequestAttemptTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Base of the exponential back-off between retries (Polly's exponential back-off with jitter: retry n waits
    /// about <c>RetryBaseDelay × 2^(n-1)</c>, randomised), capped at <see cref="RetryMaxDelay"/>. With the defaults
    /// (250 ms, 3 retries) the back-off adds about 2 s, so all three retries fit in the 10 s entitlements budget even
    /// after a slow first attempt. Stigg's own axios-retry waits 4/8/16 s, so at most one retry ever happens inside
    /// 10 s. A <c>Retry-After</c> (429/503) replaces the computed delay.
    /// </summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Retries after the first attempt (so at most <c>MaxRetries + 1</c> attempts), budget permitting.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>
    /// The circuit opens when at least this share of the attempts in <see cref="CircuitBreakerSamplingDuration"/>
    /// failed with an outage (network error, attempt timeout, 429, 5xx), and there were at least
    /// <see cref="CircuitBreakerMinimumThroughput"/> of them. 401/403 and GraphQL errors are answers, not outages.
    /// </summary>
    public double CircuitBreakerFailureRatio { get; init; } = 0.5;

    public TimeSpan CircuitBreakerSamplingDuration { get; init; } = TimeSpan.FromSeconds(10);

    public int CircuitBreakerMinimumThroughput { get; init; } = 5;

    /// <summary>How long an open circuit fails calls at once before it lets one probe through (half-open).</summary>
    public TimeSpan CircuitBreakerBreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>graphql-transport-ws keep-alive: a <c>ping</c> every interval; no <c>pong</c> by the next one = dead socket.</summary>
    public TimeSpan WsPingInterval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan WsReconnectMin { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan WsReconnectMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the socket may take to open and be acknowledged (<c>connection_ack</c>).</summary>
    public TimeSpan WsConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>X-SDK-INSTANCE-ID</c>: a 21-character nanoid, random per process (as the SDK's per-initialize id). Made on
    /// first use: the random bytes come from OpenSSL, which file and offline modes need not load (3.6 MB resident).
    /// </summary>
    public string SdkInstanceId { get => field ??= ProcessInstance.Id; init; }

    /// <summary>The <c>source</c> header. The Sidecar bundles the Node SDK, so Stigg sees <c>NODE_SERVER_SDK</c>.</summary>
    public string Source { get; init; } = "NODE_SERVER_SDK";

    /// <summary>The <c>User-Agent</c> of every HTTP request to Stigg: the product and its build (the host sends its version with the commit).</summary>
    public string UserAgent { get; init; } = "Sidecar.Aot";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that cannot work.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(ApiKey, nameof(ApiKey));
        ArgumentNullException.ThrowIfNull(ApiUrl, nameof(ApiUrl));
        ArgumentNullException.ThrowIfNull(EdgeApiUrl, nameof(EdgeApiUrl));
        ArgumentNullException.ThrowIfNull(WsUrl, nameof(WsUrl));
        PollyTimeout(EntitlementsTimeout, nameof(EntitlementsTimeout));
        PollyTimeout(EntitlementsAttemptTimeout, nameof(EntitlementsAttemptTimeout));
        PollyTimeout(RequestTimeout, nameof(RequestTimeout));
        PollyTimeout(RequestAttemptTimeout, nameof(RequestAttemptTimeout));
        Positive(WsPingInterval, nameof(WsPingInterval));
        Positive(WsReconnectMin, nameof(WsReconnectMin));
        Positive(WsConnectTimeout, nameof(WsConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryBaseDelay, TimeSpan.Zero, nameof(RetryBaseDelay));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RetryBaseDelay, TimeSpan.FromDays(1), nameof(RetryBaseDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMaxDelay, RetryBaseDelay, nameof(RetryMaxDelay));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RetryMaxDelay, TimeSpan.FromDays(1), nameof(RetryMaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(WsReconnectMax, WsReconnectMin, nameof(WsReconnectMax));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries, nameof(MaxRetries));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxRetries, 10, nameof(MaxRetries));

        // Polly's own limits, checked here so a bad value names our option rather than failing inside Polly.
        if (!(CircuitBreakerFailureRatio > 0 && CircuitBreakerFailureRatio <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(CircuitBreakerFailureRatio), CircuitBreakerFailureRatio, "Must be above 0 and at most 1.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(CircuitBreakerMinimumThroughput, 2, nameof(CircuitBreakerMinimumThroughput));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CircuitBreakerSamplingDuration, TimeSpan.FromMilliseconds(500), nameof(CircuitBreakerSamplingDuration));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CircuitBreakerBreakDuration, TimeSpan.FromMilliseconds(500), nameof(CircuitBreakerBreakDuration));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CircuitBreakerSamplingDuration, TimeSpan.FromDays(1), nameof(CircuitBreakerSamplingDuration));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CircuitBreakerBreakDuration, TimeSpan.FromDays(1), nameof(CircuitBreakerBreakDuration));

        static void PollyTimeout(TimeSpan value, string name)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.FromMilliseconds(10), name);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, TimeSpan.FromDays(1), name);
        }

        static void Positive(TimeSpan value, string name) => ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, name);
    }

    private static class ProcessInstance
    {
        public static readonly string Id = NanoId.New();
    }
}
