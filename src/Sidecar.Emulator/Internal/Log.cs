using Microsoft.Extensions.Logging;

namespace Sidecar.Emulator.Internal;

/// <summary>Source-generated log messages of the emulator.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Fixture loaded: {Entries} customer entries")]
    public static partial void FixtureLoaded(ILogger logger, int entries);

    [LoggerMessage(2, LogLevel.Debug, "WebSocket opened from {Remote}")]
    public static partial void SocketOpened(ILogger logger, string remote);

    [LoggerMessage(3, LogLevel.Debug, "WebSocket closing: {Code} {Reason}")]
    public static partial void Closing(ILogger logger, int code, string reason);

    [LoggerMessage(4, LogLevel.Debug, "Subscription {Id} started: {Kind}")]
    public static partial void Subscribed(ILogger logger, string id, string kind);

    [LoggerMessage(5, LogLevel.Warning, "WebSocket consumer too slow: connection dropped")]
    public static partial void SlowConsumer(ILogger logger);

    [LoggerMessage(6, LogLevel.Information, "Admin: {Action} {Target}")]
    public static partial void AdminChange(ILogger logger, string action, string target);

    [LoggerMessage(7, LogLevel.Information, "Faults set: edgeStatus={EdgeStatus} graphQlStatus={GraphQlStatus} failCount={FailCount} edgeLatencyMs={EdgeLatencyMs} graphQlLatencyMs={GraphQlLatencyMs} wsRefuse={WsRefuse} edgeConnection={EdgeConnection} graphQlConnection={GraphQlConnection}")]
    public static partial void FaultsSet(
        ILogger logger, int? edgeStatus, int? graphQlStatus, int? failCount, int? edgeLatencyMs, int? graphQlLatencyMs, bool? wsRefuse,
        string? edgeConnection, string? graphQlConnection);

    [LoggerMessage(8, LogLevel.Information, "Dropped {Count} WebSocket connections")]
    public static partial void SocketsDropped(ILogger logger, int count);
}
