namespace Sidecar.Cache.Faster;

/// <summary>What <see cref="FasterTier.OpenAsync"/> found on disk.</summary>
public enum FasterRecoveryOutcome
{
    /// <summary>No checkpoint: the tier started empty.</summary>
    Empty = 0,

    /// <summary>The latest verified checkpoint was recovered (<see cref="FasterTier.RecoveredVersion"/>).</summary>
    Recovered = 1,

    /// <summary>A checkpoint existed but was damaged, unverifiable or could not be recovered; its files were moved to <c>corrupt/</c> and the tier started empty.</summary>
    CorruptStartedEmpty = 2,

    /// <summary>The directory cannot be written (read-only filesystem, permissions): the tier persists nothing (<see cref="FasterTier.DegradedCause"/>).</summary>
    Unavailable = 3,
}
