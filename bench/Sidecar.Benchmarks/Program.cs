using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Sidecar.Benchmarks -- --filter '*'
// Any BenchmarkDotNet switch works: --job short (quick), --job dry (validation), --list flat, --filter '*Evaluator*',
// --artifacts <dir> (default: bench/out/BenchmarkDotNet.Artifacts).
var config = ManualConfig.Create(DefaultConfig.Instance)
    // The generated benchmark project is built per run; on a small shared machine that takes longer than the 2 min default.
    .WithBuildTimeout(TimeSpan.FromMinutes(15))
    .WithArtifactsPath(Path.Combine(BenchOutDirectory(), "BenchmarkDotNet.Artifacts"));
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);

static string BenchOutDirectory()
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
