using Sidecar.Upstream.Internal;
using Sidecar.Testing;

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

    [Theory]
    [InlineData(1, 250, 300)]
    [InlineData(2, 500, 600)]
    [InlineData(3, 1000, 1200)]
    [InlineData(8, 4000, 4000)]
    public void RetryDelay_DoublesWithUpToTwentyPercentJitterAndIsCapped(int retry, double minMs, double maxMs)
    {
        for (var i = 0; i < 200; i++)
        {
            var delay = Backoff.RetryDelay(retry, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(4)).TotalMilliseconds;
            Assert.InRange(delay, minMs, maxMs);
        }
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
