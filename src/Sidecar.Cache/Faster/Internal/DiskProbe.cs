namespace Sidecar.Cache.Faster.Internal;

/// <summary>
/// Asks the disk itself whether a directory takes writes: a probe file of a given size, written (and flushed when it has
/// bytes) and removed. The disk's refusal ("No space left on device", "Read-only file system") is the cause to report.
/// </summary>
internal static class DiskProbe
{
    /// <summary>Null when <paramref name="bytes"/> zeros can be written in <paramref name="directory"/>; else why not.</summary>
    public static string? WriteFails(string directory, int bytes)
    {
        var probe = Path.Combine(directory, ".probe");
        try
        {
            using var stream = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.DeleteOnClose);
            if (bytes > 0)
            {
                stream.Write(new byte[bytes]);
                stream.Flush(flushToDisk: true);
            }

            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }
    }
}
