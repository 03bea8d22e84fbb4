using Microsoft.Extensions.Logging;

namespace Sidecar.Cache.Faster;

/// <summary>Source-generated log messages of the FASTER tier (event ids 2100–2199). Failure lines carry their cause: the exception, or {Cause} (the JSON logger writes either under LOG_ERROR_KEY).</summary>
internal static partial class Log
{
    [LoggerMessage(2100, LogLevel.Information, "FASTER tier recovered checkpoint version {Version} from {Directory} (log begin {BeginAddress}, tail {TailAddress}; verified in {VerifiedMs:0.0} ms, recovered in {ElapsedMs:0.0} ms)")]
    public static partial void Recovered(ILogger logger, long version, string directory, long beginAddress, long tailAddress, double verifiedMs, double elapsedMs);

    [LoggerMessage(2101, LogLevel.Information, "FASTER tier found no checkpoint in {Directory}; starting empty")]
    public static partial void StartedEmpty(ILogger logger, string directory);

    [LoggerMessage(2102, LogLevel.Information, "FASTER tier deleted {Directory}: a store generation without a verified checkpoint, or superseded")]
    public static partial void DiscardedGeneration(ILogger logger, string directory);

    [LoggerMessage(2103, LogLevel.Warning, "FASTER tier could not recover the checkpoint in {Directory}")]
    public static partial void RecoveryFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(2104, LogLevel.Warning, "FASTER tier holds a damaged record for {Key}; treating it as a miss and removing it")]
    public static partial void CorruptRecord(ILogger logger, Exception exception, string key);

    [LoggerMessage(2105, LogLevel.Warning, "FASTER tier {Operation} failed for {Key}; answering as a miss / no-op")]
    public static partial void OperationFailed(ILogger logger, Exception exception, string operation, string key);

    [LoggerMessage(2106, LogLevel.Debug, "FASTER tier checkpoint {Token} taken at version {Version} (tail {TailAddress}) in {ElapsedMs:0.0} ms")]
    public static partial void CheckpointTaken(ILogger logger, Guid token, long version, long tailAddress, double elapsedMs);

    [LoggerMessage(2107, LogLevel.Debug, "FASTER tier checkpoint not started: another checkpoint is in progress")]
    public static partial void CheckpointBusy(ILogger logger);

    [LoggerMessage(2108, LogLevel.Warning, "FASTER tier maintenance (checkpoint/compaction) failed; will retry next interval")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(2109, LogLevel.Information, "FASTER tier compacted the log: begin {OldBeginAddress} -> {NewBeginAddress}, tail {TailAddress}, bound {MaxDiskBytes} bytes, in {ElapsedMs:0.0} ms")]
    public static partial void Compacted(ILogger logger, long oldBeginAddress, long newBeginAddress, long tailAddress, long maxDiskBytes, double elapsedMs);

    [LoggerMessage(2110, LogLevel.Debug, "FASTER tier kept {Key}: stored entitlements timestamp {StoredTimestamp} is newer than {IncomingTimestamp}")]
    public static partial void WriteSkippedOlder(ILogger logger, string key, long storedTimestamp, long incomingTimestamp);

    [LoggerMessage(2111, LogLevel.Information, "FASTER tier closed ({Directory}, final checkpoint: {Checkpointed})")]
    public static partial void Closed(ILogger logger, string directory, bool checkpointed);

    [LoggerMessage(2112, LogLevel.Warning, "FASTER tier moved {Directory}'s store to {QuarantineDirectory} and started empty: {Cause}")]
    public static partial void Quarantined(ILogger logger, string directory, string cause, string quarantineDirectory);

    [LoggerMessage(2113, LogLevel.Debug, "FASTER tier could not dispose a store")]
    public static partial void DisposeFailed(ILogger logger, Exception exception);

    [LoggerMessage(2114, LogLevel.Warning, "FASTER tier persistence degraded in {Directory}; serving from memory and retrying every checkpoint interval: {Cause}")]
    public static partial void PersistenceDegraded(ILogger logger, string directory, string cause);

    [LoggerMessage(2115, LogLevel.Information, "FASTER tier persistence resumed on a new store in {Directory}")]
    public static partial void PersistenceResumed(ILogger logger, string directory);

    [LoggerMessage(2116, LogLevel.Debug, "FASTER tier directory {Directory} still refuses writes: {Cause}")]
    public static partial void ResumeProbeFailed(ILogger logger, string directory, string cause);

    [LoggerMessage(2117, LogLevel.Warning, "FASTER tier cannot use {Directory}; running without persistence: {Cause}")]
    public static partial void PersistenceUnavailable(ILogger logger, string directory, string cause);

    [LoggerMessage(2118, LogLevel.Information, "FASTER tier index grew from {OldBuckets} to {NewBuckets} buckets ({Entries} entries)")]
    public static partial void IndexGrown(ILogger logger, long oldBuckets, long newBuckets, long entries);

    [LoggerMessage(2119, LogLevel.Trace, "FASTER: {Message}")]
    public static partial void FasterMessage(ILogger logger, string message);
}
