using System.Text;
using System.Text.RegularExpressions;

namespace Sidecar.Deploy.Tests;

/// <summary>One Dockerfile instruction after line continuations are joined.</summary>
internal sealed record Instruction(string Keyword, string Arguments, int Stage);

/// <summary>
/// A Dockerfile read the way BuildKit's parser splits it: parser directives and comment lines dropped, lines ending in
/// a backslash joined, each instruction its keyword and the rest; stages are counted by FROM.
/// </summary>
internal sealed partial class Dockerfile
{
    public static readonly IReadOnlySet<string> Keywords = new HashSet<string>(StringComparer.Ordinal)
    {
        "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
        "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    };

    public Dockerfile(string text)
    {
        var instructions = new List<Instruction>();
        var stageNames = new List<string?>();
        var pending = new StringBuilder();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.TrimStart().StartsWith('#'))
            {
                continue; // comments and parser directives, also inside a continued instruction
            }

            if (line.EndsWith('\\'))
            {
                pending.Append(line[..^1]).Append(' ');
                continue;
            }

            pending.Append(line);
            var whole = pending.ToString().Trim();
            pending.Clear();
            if (whole.Length == 0)
            {
                continue;
            }

            var space = whole.IndexOf(' ', StringComparison.Ordinal);
            var keyword = (space < 0 ? whole : whole[..space]).ToUpperInvariant();
            var arguments = space < 0 ? string.Empty : whole[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                var alias = FromAlias().Match(arguments);
                stageNames.Add(alias.Success ? alias.Groups[1].Value : null);
            }

            instructions.Add(new Instruction(keyword, arguments, stageNames.Count - 1));
        }

        Instructions = instructions;
        StageNames = stageNames;
    }

    public IReadOnlyList<Instruction> Instructions { get; }

    /// <summary>The name given with <c>AS</c> to each stage, in order (null for an unnamed one).</summary>
    public IReadOnlyList<string?> StageNames { get; }

    public IEnumerable<Instruction> InStage(int stage) => Instructions.Where(i => i.Stage == stage);

    /// <summary>The image a FROM names, without <c>--platform=</c> and <c>AS name</c>.</summary>
    public string BaseImage(int stage) =>
        Instructions.First(i => i.Stage == stage && i.Keyword == "FROM").Arguments
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).First(w => !w.StartsWith("--", StringComparison.Ordinal));

    [GeneratedRegex(@"\s[Aa][Ss]\s+(\S+)\s*$")]
    private static partial Regex FromAlias();
}

/// <summary>
/// .dockerignore as BuildKit applies it (Go filepath.Match plus <c>**</c>, a leading <c>!</c> re-including): a path is
/// excluded when the last pattern matching it or one of its parent directories is not a <c>!</c> one.
/// </summary>
internal sealed class DockerIgnore
{
    private readonly List<(Regex Pattern, bool Exclude)> _rules = [];

    public DockerIgnore(string text)
    {
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var exclude = !line.StartsWith('!');
            var pattern = (exclude ? line : line[1..]).Trim().Trim('/');
            _rules.Add((new Regex("^" + ToRegex(pattern) + "$"), exclude));
        }
    }

    public bool Excludes(string relativePath)
    {
        var parts = relativePath.Trim('/').Split('/');
        var excluded = false;
        foreach (var (pattern, exclude) in _rules)
        {
            for (var n = 1; n <= parts.Length; n++)
            {
                if (pattern.IsMatch(string.Join('/', parts[..n])))
                {
                    excluded = exclude;
                    break;
                }
            }
        }

        return excluded;
    }

    private static string ToRegex(string pattern)
    {
        var regex = new StringBuilder();
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                var slash = i + 2 < pattern.Length && pattern[i + 2] == '/';
                regex.Append(slash ? "(.*/)?" : ".*");
                i += slash ? 2 : 1;
            }
            else
            {
                regex.Append(pattern[i] switch
                {
                    '*' => "[^/]*",
                    '?' => "[^/]",
                    var c => Regex.Escape(c.ToString()),
                });
            }
        }

        return regex.ToString();
    }
}
