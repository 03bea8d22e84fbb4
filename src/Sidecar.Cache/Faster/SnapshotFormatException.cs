namespace Sidecar.Cache.Faster;

/// <summary>The bytes are not a valid encoded snapshot (corrupt, truncated, or of an unknown format version).</summary>
public sealed class SnapshotFormatException : FormatException
{
    public SnapshotFormatException()
    {
    }

    public SnapshotFormatException(string message)
        : base(message)
    {
    }

    public SnapshotFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
