namespace Sidecar.Cache.Faster.Internal;

/// <summary>The files of one store generation: <c>log/hlog.N</c> segments, FASTER's <c>checkpoints/</c>, our <c>manifest</c> and the recovery marker.</summary>
internal sealed record StoreLayout(string Directory)
{
    public string Name => Path.GetFileName(Directory);

    public string Log => Path.Combine(Directory, "log");

    public string LogFile => Path.Combine(Log, "hlog");

    public string Checkpoints => Path.Combine(Directory, "checkpoints");

    public string Manifest => Path.Combine(Directory, CheckpointManifest.FileName);

    /// <summary>Present while a start recovers this generation: found at the next start, it means recovery crashed the process.</summary>
    public string RecoveringMarker => Path.Combine(Directory, "recovering");

    public string Segment(long segment) => $"{LogFile}.{segment}";

    public bool HasCheckpoint =>
        System.IO.Directory.Exists(Checkpoints)
        && System.IO.Directory.EnumerateFiles(Checkpoints, "*", SearchOption.AllDirectories).Any();
}
