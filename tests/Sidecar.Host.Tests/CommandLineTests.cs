using System.Text.RegularExpressions;
using Sidecar.Host.Configuration;

namespace Sidecar.Host.Tests;

public sealed class CommandLineTests
{
    private static (int? Exit, string Out, string Err) Dispatch(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = CommandLine.Dispatch(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void NoArguments_RunsTheSidecar()
    {
        Assert.Null(Dispatch().Exit);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Help_ListsEveryVariableWithItsDefaultAndMeaning(string flag)
    {
        var (exit, output, errors) = Dispatch(flag);

        Assert.Equal(0, exit);
        Assert.Empty(errors);
        var lines = output.Split('\n');
        foreach (var variable in EnvVariables.All)
        {
            var line = Assert.Single(lines, l => l.TrimStart().StartsWith(variable.Name + " ", StringComparison.Ordinal));
            Assert.Contains(variable.Description, line, StringComparison.Ordinal);
            Assert.Contains($"[default: {variable.DefaultText}]", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Help_ShowsTheDefaultsTheSettingsApply()
    {
        var output = Dispatch("--help").Out;

        Assert.Matches(@"GRPC_PORT +.*\[default: 80\]", output);
        Assert.Matches(@"METRICS_PORT +.*\[default: 8080\]", output);
        Assert.Matches(@"REDIS_KEYS_TTL_IN_SECS +.*\[default: 604800\]", output);
        Assert.Matches(@"OTEL_SERVICE_NAME +.*\[default: sidecar\]", output);
    }

    [Fact]
    public void Version_PrintsTheInformationalVersionWithTheCommit()
    {
        var (exit, output, _) = Dispatch("--version");

        Assert.Equal(0, exit);
        Assert.Equal(SidecarVersion.Informational, output.TrimEnd());
        Assert.Matches(new Regex(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?\+[0-9a-f]{40}$"), SidecarVersion.Informational);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("serve")]
    [InlineData("--version", "extra")]
    [InlineData("health", "--readiness")]
    public void UnknownArgument_OneLineOnStderr_Exit2(params string[] args)
    {
        var (exit, output, errors) = Dispatch(args);

        Assert.Equal(2, exit);
        Assert.Empty(output);
        var line = Assert.Single(errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("sidecar: unknown argument", line, StringComparison.Ordinal);
    }
}
