using System.Text;
using Sidecar.Core.Model;
using Sidecar.Testing;
using Sidecar.Upstream.Internal;

namespace Sidecar.Upstream.Tests;

public sealed class OptionsAndBackoffTests
{
    private static readonly UpstreamOptions Valid = new() { ApiKey = "k" };

    [Fact]
    public void Defaults_MatchTheStiggSdk()
    {
        Assert.Equal(new Uri("https://api.stigg.io"), Valid.ApiUrl);
        Assert.Equal(new Uri("https://edge.api.stigg.io"), Valid.EdgeApiUrl);
        Assert.Equal(new Uri("wss://api.stigg.io"), Valid.WsUrl);
        Assert.Equal(TimeSpan.FromSeconds(10), Valid.EntitlementsTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), Valid.RequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), Valid.WsPingInterval);
        Assert.Matches("^[A-Za-z0-9_-]{21}$", Valid.SdkInstanceId);
        Assert.Equal(Valid.SdkInstanceId, new UpstreamOptions { ApiKey = "other" }.SdkInstanceId);
    }

    [Fact]
    public void Constructor_NonPositiveBudget_ThrowsNamingTheOption()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(
            () => new StiggApiClient(Valid with { EntitlementsTimeout = TimeSpan.Zero }, new CapturingLogger()));

        Assert.Equal("EntitlementsTimeout", ex.ParamName);
    }

    [Fact]
    public void Constructor_ReconnectMaxBelowMin_ThrowsNamingTheOption()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new EventStream(
            Valid with { WsReconnectMin = TimeSpan.FromSeconds(5), WsReconnectMax = TimeSpan.FromSeconds(1) }, new EventStreamHandlers(), new CapturingLogger()));

        Assert.Equal("WsReconnectMax", ex.ParamName);
    }

    [Fact]
    public void Constructor_EmptyApiKey_Throws()
    {
        Assert.ThrowsAny<ArgumentException>(() => new StiggApiClient(Valid with { ApiKey = "" }, new CapturingLogger()));
    }

    [Fact]
    public void Defaults_CircuitBreaker_HalfOfAtLeastFiveAttemptsInTenSecondsOpensForFive()
    {
        Assert.Equal(0.5, Valid.CircuitBreakerFailureRatio);
        Assert.Equal(5, Valid.CircuitBreakerMinimumThroughput);
        Assert.Equal(TimeSpan.FromSeconds(10), Valid.CircuitBreakerSamplingDuration);
        Assert.Equal(TimeSpan.FromSeconds(5), Valid.CircuitBreakerBreakDuration);
        Assert.Equal(TimeSpan.FromSeconds(4), Valid.EntitlementsAttemptTimeout);
        Assert.Equal(TimeSpan.FromSeconds(20), Valid.RequestAttemptTimeout);
    }

    [Theory]
    [InlineData("CircuitBreakerFailureRatio")]
    [InlineData("CircuitBreakerMinimumThroughput")]
    [InlineData("CircuitBreakerSamplingDuration")]
    [InlineData("CircuitBreakerBreakDuration")]
    [InlineData("RequestAttemptTimeout")]
    public void Constructor_BreakerOrAttemptKnobOutOfRange_ThrowsNamingTheOption(string option)
    {
        var options = option switch
        {
            "CircuitBreakerFailureRatio" => Valid with { CircuitBreakerFailureRatio = 0 },
            "CircuitBreakerMinimumThroughput" => Valid with { CircuitBreakerMinimumThroughput = 1 },
            "CircuitBreakerSamplingDuration" => Valid with { CircuitBreakerSamplingDuration = TimeSpan.FromMilliseconds(100) },
            "CircuitBreakerBreakDuration" => Valid with { CircuitBreakerBreakDuration = TimeSpan.Zero },
            _ => Valid with { RequestAttemptTimeout = TimeSpan.FromMilliseconds(1) },
        };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new StiggApiClient(options, new CapturingLogger()));

        Assert.Equal(option, ex.ParamName);
    }

    [Fact]
    public void Constructor_NewClient_StartsWithTheCircuitClosed()
    {
        using var client = new StiggApiClient(Valid, new CapturingLogger());

        Assert.Equal(StiggCircuitState.Closed, client.CircuitState);
    }

    [Fact]
    public void WithIdempotencyKeys_KeepsGivenKeysAndGivesEachMissingOneAFreshNanoId()
    {
        UsageReport[] reports =
        [
            new() { CustomerId = "c", FeatureId = "f", IdempotencyKey = "given" },
            new() { CustomerId = "c", FeatureId = "f" },
            new() { CustomerId = "c", FeatureId = "f" },
        ];

        var keyed = StiggApiClient.WithIdempotencyKeys(reports);

        Assert.Equal("given", keyed[0].IdempotencyKey);
        Assert.Matches("^[A-Za-z0-9_-]{21}$", keyed[1].IdempotencyKey!);
        Assert.NotEqual(keyed[1].IdempotencyKey, keyed[2].IdempotencyKey);
        Assert.Null(reports[1].IdempotencyKey);
        IReadOnlyList<UsageReport> allKeyed = [reports[0]];
        Assert.Same(allKeyed, StiggApiClient.WithIdempotencyKeys(allKeyed));
    }

    [Fact]
    public void GraphQlRequestWriter_UsageReports_CarryTheirIdempotencyKeys()
    {
        var single = Encoding.UTF8.GetString(GraphQlRequestWriter.ReportUsage(new UsageReport { CustomerId = "c", FeatureId = "f", IdempotencyKey = "k-1" }));
        var bulk = Encoding.UTF8.GetString(GraphQlRequestWriter.ReportUsageBulk(
            [new UsageReport { CustomerId = "c", FeatureId = "f", IdempotencyKey = "k-2" }, new UsageReport { CustomerId = "c", FeatureId = "f", IdempotencyKey = "k-3" }]));

        Assert.Contains("\"idempotencyKey\":\"k-1\"", single, StringComparison.Ordinal);
        Assert.Contains("\"idempotencyKey\":\"k-2\"", bulk, StringComparison.Ordinal);
        Assert.Contains("\"idempotencyKey\":\"k-3\"", bulk, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(502, true, true)]
    [InlineData(500, true, false)]
    [InlineData(429, true, true)]
    [InlineData(401, false, false)]
    public void IsRetryable_ByPolicy_KeyedRetriesEveryOutageUnkeyedOnlyWhatWasCertainlyNotApplied(int status, bool keyed, bool unkeyed)
    {
        var failure = new UpstreamException(status == 401 ? UpstreamFailure.Unauthorized : UpstreamFailure.Unavailable, "x") { StatusCode = status };

        Assert.Equal(keyed, StiggResilience.IsRetryable(failure, RetryPolicy.Idempotent));
        Assert.Equal(unkeyed, StiggResilience.IsRetryable(failure, RetryPolicy.UnkeyedMutation));
    }

    [Fact]
    public void IsRetryable_UnkeyedMutation_RetriesARefusedConnectionButNotALostResponse()
    {
        var refused = new UpstreamException(UpstreamFailure.Unavailable, "x", new HttpRequestException(HttpRequestError.ConnectionError, "refused"));
        var lost = new UpstreamException(UpstreamFailure.Unavailable, "x", new HttpRequestException(HttpRequestError.ResponseEnded, "ended"));

        Assert.True(StiggResilience.IsRetryable(refused, RetryPolicy.UnkeyedMutation));
        Assert.False(StiggResilience.IsRetryable(lost, RetryPolicy.UnkeyedMutation));
        Assert.True(StiggResilience.IsRetryable(lost, RetryPolicy.Idempotent));
    }

    [Theory]
    [InlineData(0, 1000, 2000)]
    [InlineData(2, 1000, 8000)]
    [InlineData(50, 1000, 30000)]
    public void ReconnectDelay_StaysBetweenMinAndTheGrowingCap(int failures, double minMs, double capMs)
    {
        for (var i = 0; i < 200; i++)
        {
            var delay = Backoff.ReconnectDelay(failures, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)).TotalMilliseconds;
            Assert.InRange(delay, minMs, capMs);
        }
    }
}
