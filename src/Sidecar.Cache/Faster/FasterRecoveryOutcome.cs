namespace Sidecar.Cache.Faster;

/// <summary>What <see cref="FasterTier.OpenAsync"/> found on disk.</summary>
public enum FasterRecoveryOutcome
{
    /// <summary>No checkpoint: the tier started empty.</summary>
    Empty = 0,

    /// <summary>The latest checkpoint was recovered (<see cref="FasterTier.RecoveredVersion"/>).</summary>
    Recovered = 1,

    /// <summary>A checkpoint existed but could not be recovered; its files were moved aside and the tier started empty.</summary>
    CorruptStartedEmpty = 2,
}
