using Grpc.Core;
using Sidecar.Host.Diagnostics;
using Sidecar.Host.Rpc;
using Sidecar.Testing;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>A fault inside a handler is INTERNAL in words with one log line, never UNKNOWN with the exception's text.</summary>
public sealed class HandlerGuardTests
{
    private const string Method = "GetBooleanEntitlement";

    [Fact]
    public async Task Guard_HandlerThrows_InternalInWordsAndOneLogLine()
    {
        var logger = new CapturingLogger();
        using var metrics = new SidecarMetrics(new SidecarStatus());
        var guarded = SidecarMethodProvider.Guard<GetBooleanEntitlementRequest, GetBooleanEntitlementResponse>(
            Method, (_, _, _) => throw new InvalidOperationException("secret internals"), metrics, logger);

        var ex = await Assert.ThrowsAsync<RpcException>(() => guarded(null!, new GetBooleanEntitlementRequest(), null!));

        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.DoesNotContain("secret internals", ex.Status.Detail, StringComparison.Ordinal);
        var line = Assert.Single(logger.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
        Assert.Equal(14, line.EventId.Id);
        Assert.Contains("secret internals", line.FullText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Guard_HandlerFaultsLater_InternalInWordsAndOneLogLine()
    {
        var logger = new CapturingLogger();
        using var metrics = new SidecarMetrics(new SidecarStatus());
        var guarded = SidecarMethodProvider.Guard<GetBooleanEntitlementRequest, GetBooleanEntitlementResponse>(
            Method, async (_, _, _) => { await Task.Yield(); throw new FormatException("bad state"); }, metrics, logger);

        var ex = await Assert.ThrowsAsync<RpcException>(() => guarded(null!, new GetBooleanEntitlementRequest(), null!));

        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Single(logger.Entries, e => e.EventId.Id == 14);
    }

    [Fact]
    public async Task Guard_RpcException_PassesThroughUnlogged()
    {
        var logger = new CapturingLogger();
        using var metrics = new SidecarMetrics(new SidecarStatus());
        var guarded = SidecarMethodProvider.Guard<GetBooleanEntitlementRequest, GetBooleanEntitlementResponse>(
            Method, (_, _, _) => throw RequestValidation.Invalid("customer_id: must not be empty"), metrics, logger);

        var ex = await Assert.ThrowsAsync<RpcException>(() => guarded(null!, new GetBooleanEntitlementRequest(), null!));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Empty(logger.Entries);
    }
}
