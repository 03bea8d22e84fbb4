using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace Sidecar.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/Sidecar.Benchmarks -- --filter '*'</c>. Any BenchmarkDotNet switch works:
/// <c>--job short</c> (quick), <c>--job dry</c> (validation), <c>--list flat</c>, <c>--filter '*Evaluator*'</c>,
/// <c>--artifacts dir</c> (default: bench/out/BenchmarkDotNet.Artifacts).
/// </summary>
internal static class BenchmarkProgram
{
    public static void Main(string[] args)
    {
        var config = ManualConfig.Create(DefaultConfig.Instance)
            // The generated benchmark project is built per run; on a small shared machine that takes longer than the 2 min default.
            .WithBuildTimeout(TimeSpan.FromMinutes(15))
            .WithArtifactsPath(Path.Combine(BenchOutDirectory(), "BenchmarkDotNet.Artifacts"));
        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args, config);
    }

    private static string BenchOutDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sidecar.Aot.sln")))
            {
                return Path.Combine(dir.FullName, "bench", "out");
            }
        }

        return Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts");
    }
}
