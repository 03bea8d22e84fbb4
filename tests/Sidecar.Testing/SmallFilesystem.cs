using System.Diagnostics;

namespace Sidecar.Testing;

/// <summary>
/// A real, small filesystem of its own (a tmpfs of a few MiB) for disk-trouble tests: it fills up, can be remounted
/// read-only and back. Mounting needs root (CI runs as root); otherwise the test fails with one line saying so.
/// </summary>
public sealed class SmallFilesystem : IDisposable
{
    public SmallFilesystem(long sizeBytes)
    {
        Path = Directory.CreateTempSubdirectory("sidecar-fs-").FullName;
        if (Environment.UserName != "root" && !IsRoot())
        {
            throw new InvalidOperationException("This test mounts a tmpfs and needs root (run the tests as root, as CI does).");
        }

        Run("mount", "-t", "tmpfs", "-o", $"size={sizeBytes}", "tmpfs", Path);
    }

    public string Path { get; }

    /// <summary>Remounts read-only (true) or read-write (false).</summary>
    public void Remount(bool readOnly) => Run("mount", "-o", readOnly ? "remount,ro" : "remount,rw", Path);

    /// <summary>Writes a file of zeros that takes all but <paramref name="leaveBytes"/> of the free space.</summary>
    public string Fill(long leaveBytes)
    {
        var filler = System.IO.Path.Combine(Path, "filler");
        var free = new DriveInfo(Path).AvailableFreeSpace;
        using var stream = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        var chunk = new byte[64 * 1024];
        for (var left = free - leaveBytes; left > 0; left -= chunk.Length)
        {
            try
            {
                stream.Write(chunk, 0, (int)Math.Min(chunk.Length, left));
            }
            catch (IOException)
            {
                break; // full already
            }
        }

        return filler;
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        Directory.Delete(Path, recursive: true);
    }

    private static bool IsRoot() => File.ReadAllText("/proc/self/status").Split('\n').Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0");

    private static void Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {error.Trim()}");
        }
    }
}
