namespace Sidecar.Testing;

/// <summary>Locates files of this repository from a test's output directory.</summary>
public static class RepoPaths
{
    /// <summary>The directory holding Sidecar.Aot.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>samples/entitlements.json: the fixture the emulator, the file mode and the smoke tests share.</summary>
    public static string SampleEntitlements => Path.Combine(Root, "samples", "entitlements.json");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sidecar.Aot.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Sidecar.Aot.sln not found above " + AppContext.BaseDirectory);
    }
}
