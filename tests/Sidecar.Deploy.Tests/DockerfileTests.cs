using System.Text.RegularExpressions;
using System.Xml.Linq;
using Sidecar.Testing;

namespace Sidecar.Deploy.Tests;

/// <summary>
/// Dockerfile.aot and .dockerignore, checked without a Docker engine: the file parses into known instructions over
/// existing stages, its publish command is CI's, its restore layer comes before the source, and the ignore list keeps
/// build output out of the context and what the Dockerfile copies in.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly Dockerfile File = new(System.IO.File.ReadAllText(Path.Combine(RepoPaths.Root, "Dockerfile.aot")));

    private static readonly DockerIgnore Ignore = new(System.IO.File.ReadAllText(Path.Combine(RepoPaths.Root, ".dockerignore")));

    private static int FinalStage => File.StageNames.Count - 1;

    private static int BuildStage => File.StageNames.ToList().IndexOf("build");

    [Fact]
    public void Parses_IntoKnownInstructions_AndStagesThatExistBeforeTheyAreUsed()
    {
        Assert.NotEmpty(File.Instructions);
        Assert.All(File.Instructions, i => Assert.Contains(i.Keyword, Dockerfile.Keywords));
        Assert.Equal("FROM", File.Instructions.First(i => i.Keyword != "ARG").Keyword); // only ARG may come before FROM

        foreach (var copy in File.Instructions.Where(i => i.Keyword == "COPY" && i.Arguments.Contains("--from=", StringComparison.Ordinal)))
        {
            var from = CopyFrom().Match(copy.Arguments).Groups[1].Value;
            var earlier = File.StageNames.Take(copy.Stage).ToList();
            Assert.True(earlier.Contains(from) || (int.TryParse(from, out var index) && index < copy.Stage), $"COPY --from={from}: no earlier stage of that name");
        }
    }

    [Fact]
    public void Stages_DeclareEveryBuildArgumentTheyUse()
    {
        // An ARG before FROM or in another stage is empty here: the classic "label says nothing" bug.
        for (var stage = 0; stage < File.StageNames.Count; stage++)
        {
            var declared = File.InStage(stage)
                .Where(i => i.Keyword is "ARG" or "ENV")
                .Select(i => i.Arguments.Split('=', ' ')[0])
                .ToHashSet(StringComparer.Ordinal);
            foreach (var instruction in File.InStage(stage).Where(i => i.Keyword is not ("FROM" or "ARG")))
            {
                foreach (Match use in BuildArgUse().Matches(instruction.Arguments))
                {
                    Assert.True(declared.Contains(use.Groups[1].Value), $"stage {stage}: {instruction.Keyword} uses ${use.Groups[1].Value}, not declared in the stage");
                }
            }
        }
    }

    [Fact]
    public void Images_AreTheAotSdkAndTheChiseledRuntimeDeps()
    {
        Assert.True(BuildStage >= 0, "a stage named build");
        Assert.Equal("mcr.microsoft.com/dotnet/sdk:10.0-noble-aot", File.BaseImage(BuildStage));
        Assert.Equal("mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled", File.BaseImage(FinalStage));
    }

    [Fact]
    public async Task PublishCommand_IsCis_ForTheTargetsRuntime()
    {
        var docker = Tokens(PublishIn(File.InStage(BuildStage).Where(i => i.Keyword == "RUN").Select(i => i.Arguments)));
        var ci = Tokens(CiPublishCommand());

        Assert.Equal(WithoutPerBuildOptions(ci), WithoutPerBuildOptions(docker));
        Assert.Equal("$(cat /rid)", docker[docker.IndexOf("-r") + 1]);

        // The runtime identifier is what the stage's TARGETARCH maps to, run through sh as the RUN does.
        var mapping = File.InStage(BuildStage).Single(i => i.Keyword == "RUN" && i.Arguments.Contains("TARGETARCH", StringComparison.Ordinal)).Arguments;
        var caseStatement = mapping[mapping.IndexOf("case", StringComparison.Ordinal)..(mapping.IndexOf("esac", StringComparison.Ordinal) + 4)];
        Assert.Equal("linux-x64", await MapAsync(caseStatement, "amd64"));
        Assert.Equal("linux-arm64", await MapAsync(caseStatement, "arm64"));
        Assert.Null(await MapAsync(caseStatement, "riscv64"));
    }

    [Fact]
    public void RestoreLayer_CopiesEveryProjectOfTheHostAndTheProps_BeforeTheSource()
    {
        var build = File.InStage(BuildStage).ToList();
        var restore = build.FindIndex(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore src/Sidecar.Host/Sidecar.Host.csproj", StringComparison.Ordinal));
        var source = build.FindIndex(i => i.Keyword == "COPY" && Sources(i).Any(s => s.TrimEnd('/') is "src" or "."));
        Assert.True(restore >= 0 && source > restore, "dotnet restore of the host, then COPY of src/");

        var copiedFirst = build.Take(restore).Where(i => i.Keyword == "COPY").SelectMany(Sources).ToHashSet(StringComparer.Ordinal);
        var needed = HostProjectClosure().Concat(["Directory.Build.props", "Directory.Packages.props"]).ToList();
        Assert.All(needed, path => Assert.Contains(path, copiedFirst));
        Assert.DoesNotContain(copiedFirst, path => path.EndsWith(".cs", StringComparison.Ordinal) || path.TrimEnd('/') == "src");
    }

    [Fact]
    public void Context_KeepsWhatTheDockerfileCopies()
    {
        var sources = File.Instructions.Where(i => i.Keyword is "COPY" or "ADD" && !i.Arguments.Contains("--from=", StringComparison.Ordinal)).SelectMany(Sources).ToList();

        Assert.NotEmpty(sources);
        foreach (var source in sources)
        {
            var path = Path.Combine(RepoPaths.Root, source);
            Assert.True(System.IO.File.Exists(path) || Directory.Exists(path), $"COPY {source}: not in the repository");
            Assert.False(Ignore.Excludes(source), $"COPY {source}: excluded by .dockerignore");
        }

        Assert.False(Ignore.Excludes("src/Sidecar.Host/Program.cs"));
        Assert.False(Ignore.Excludes("protos/stigg/sidecar/v1/sidecar.proto"));
    }

    [Theory]
    [InlineData("src/Sidecar.Host/bin/Release/net10.0/sidecar.dll")]
    [InlineData("src/Sidecar.Core/obj/project.assets.json")]
    [InlineData("tests/Sidecar.Smoke.Tests/bin/Debug/x.dll")]
    [InlineData("artifacts/publish/sidecar")]
    [InlineData("examples/node/node_modules/@grpc/grpc-js/package.json")]
    [InlineData("bench/out/publish/sidecar")]
    [InlineData("tests/Sidecar.Host.Tests/TestResults/run.trx")]
    [InlineData("sidecar-cache/hlog.log.0")]
    [InlineData(".git/HEAD")]
    public void Context_LeavesOutBuildOutputCachesAndVcs(string path)
    {
        Assert.True(Ignore.Excludes(path), path);
    }

    [Fact]
    public void RuntimeStage_IsLabelledVersioned_NonRoot_WithTheCacheOnAVolume_AndAHealthCheckThatExists()
    {
        var final = File.InStage(FinalStage).ToList();

        var labels = string.Join(' ', final.Where(i => i.Keyword == "LABEL").Select(i => i.Arguments));
        Assert.Contains("org.opencontainers.image.version=\"$VERSION\"", labels, StringComparison.Ordinal);
        Assert.Contains("org.opencontainers.image.revision=\"$COMMIT\"", labels, StringComparison.Ordinal);
        var publish = PublishIn(File.InStage(BuildStage).Where(i => i.Keyword == "RUN").Select(i => i.Arguments));
        Assert.Contains("-p:Version=\"$VERSION\"", publish, StringComparison.Ordinal);
        Assert.Contains("-p:SourceRevisionId=\"$COMMIT\"", publish, StringComparison.Ordinal);

        var cacheDir = final.Single(i => i.Keyword == "ENV" && i.Arguments.StartsWith("CACHE_DIR=", StringComparison.Ordinal)).Arguments["CACHE_DIR=".Length..];
        var volume = final.Single(i => i.Keyword == "VOLUME").Arguments;
        Assert.Contains(VolumePaths().Matches(volume), m => cacheDir.StartsWith(m.Groups[1].Value, StringComparison.Ordinal));

        var user = final.Last(i => i.Keyword == "USER").Arguments;
        Assert.NotEqual("0", user);
        Assert.NotEqual("root", user);

        var health = final.Single(i => i.Keyword == "HEALTHCHECK").Arguments;
        Assert.Contains("CMD [\"/app/sidecar\", \"health\"]", health, StringComparison.Ordinal);
        var program = System.IO.File.ReadAllText(Path.Combine(RepoPaths.Root, "src", "Sidecar.Host", "CommandLine.cs")); // where the subcommands are parsed
        Assert.Contains("[\"health\"", program, StringComparison.Ordinal);
    }

    /// <summary>The one <c>dotnet publish</c> of the host in .ci/run or the scripts it runs with bash.</summary>
    private static string CiPublishCommand()
    {
        var ci = System.IO.File.ReadAllText(Path.Combine(RepoPaths.Root, ".ci", "run"));
        var scripts = ScriptCall().Matches(ci).Select(m => System.IO.File.ReadAllText(Path.Combine(RepoPaths.Root, m.Groups[1].Value)));
        var lines = new[] { ci }.Concat(scripts)
            .SelectMany(text => text.Split('\n'))
            .Where(line => !line.TrimStart().StartsWith('#') && line.Contains("dotnet publish src/Sidecar.Host", StringComparison.Ordinal));
        return PublishIn(lines);
    }

    private static string PublishIn(IEnumerable<string> commands)
    {
        var found = commands.Where(c => c.Contains("dotnet publish", StringComparison.Ordinal)).ToList();
        var command = Assert.Single(found);
        var start = command[command.IndexOf("dotnet publish", StringComparison.Ordinal)..];
        var end = start.IndexOf("&&", StringComparison.Ordinal);
        return end < 0 ? start : start[..end];
    }

    /// <summary>Shell words: split on blanks outside double quotes and $(...), outer double quotes removed.</summary>
    private static List<string> Tokens(string command)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        var (quoted, depth) = (false, 0);
        foreach (var c in command.Trim() + " ")
        {
            if (c == '"')
            {
                quoted = !quoted;
                continue;
            }

            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            if (char.IsWhiteSpace(c) && !quoted && depth == 0)
            {
                if (word.Length > 0)
                {
                    words.Add(word.ToString());
                    word.Clear();
                }
            }
            else
            {
                word.Append(c);
            }
        }

        return words;
    }

    /// <summary>What legitimately differs between CI and an image: where the output goes, the runtime, the stamp.</summary>
    private static List<string> WithoutPerBuildOptions(List<string> tokens)
    {
        var kept = new List<string>();
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] is "-r" or "-o" or "--runtime" or "--output")
            {
                i++;
            }
            else if (!tokens[i].StartsWith("-p:Version=", StringComparison.Ordinal) && !tokens[i].StartsWith("-p:SourceRevisionId=", StringComparison.Ordinal))
            {
                kept.Add(tokens[i]);
            }
        }

        return kept;
    }

    private static async Task<string?> MapAsync(string caseStatement, string targetArch)
    {
        var result = await Tools.RunAsync("/bin/sh", "-c", $"TARGETARCH={targetArch}; {caseStatement}");
        return result.ExitCode == 0 ? result.Stdout.Trim() : null;
    }

    /// <summary>The source paths of a COPY (every argument but the options and the last, the destination).</summary>
    private static IEnumerable<string> Sources(Instruction copy)
    {
        var words = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToList();
        return words.Take(words.Count - 1);
    }

    /// <summary>src/Sidecar.Host/Sidecar.Host.csproj and every project it references, transitively, repo-relative.</summary>
    private static HashSet<string> HostProjectClosure()
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>([Path.Combine(RepoPaths.Root, "src", "Sidecar.Host", "Sidecar.Host.csproj")]);
        while (queue.TryDequeue(out var project))
        {
            if (!found.Add(Path.GetRelativePath(RepoPaths.Root, project)))
            {
                continue;
            }

            foreach (var reference in XDocument.Load(project).Descendants("ProjectReference"))
            {
                queue.Enqueue(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(project)!, reference.Attribute("Include")!.Value)));
            }
        }

        return found;
    }

    [GeneratedRegex(@"--from=(\S+)")]
    private static partial Regex CopyFrom();

    [GeneratedRegex(@"\$\{?([A-Z][A-Z0-9_]*)\}?")]
    private static partial Regex BuildArgUse();

    [GeneratedRegex(@"""(/[^""]+)""")]
    private static partial Regex VolumePaths();

    [GeneratedRegex(@"bash\s+(scripts/[\w.-]+\.sh)")]
    private static partial Regex ScriptCall();
}
