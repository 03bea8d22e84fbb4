using System.Diagnostics;
using System.Net;
using Sidecar.Testing;

namespace Sidecar.Emulator.Tests;

/// <summary>The <c>stigg-emulator</c> executable: announces its URL, serves, and exits cleanly on SIGTERM.</summary>
public sealed class ProcessTests
{
    [Fact]
    public async Task Executable_PrintsUrlServesAndStopsOnSigterm()
    {
        var startInfo = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "stigg-emulator"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("--port");
        startInfo.ArgumentList.Add("0");
        startInfo.ArgumentList.Add("--fixture");
        startInfo.ArgumentList.Add(RepoPaths.SampleEntitlements);
        startInfo.Environment["EMULATOR_API_KEY"] = "proc-key";

        using var process = Process.Start(startInfo)!;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            string? url = null;
            while (url is null)
            {
                var line = await process.StandardOutput.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException("exited: " + await process.StandardError.ReadToEndAsync(cts.Token));
                const string Marker = "stigg-emulator listening on ";
                var at = line.IndexOf(Marker, StringComparison.Ordinal);
                if (at >= 0)
                {
                    url = line[(at + Marker.Length)..].Trim();
                }
            }

            using var http = new HttpClient { BaseAddress = new Uri(url) };
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/c/globex/entitlements-state.json");
            request.Headers.Add("X-API-KEY", "proc-key");
            using var response = await http.SendAsync(request, cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(cts.Token);
                Assert.Equal(0, kill.ExitCode);
            }

            await process.WaitForExitAsync(cts.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    [Fact]
    public async Task Executable_BadArgument_ExitsWithUsage()
    {
        var startInfo = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "stigg-emulator"))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("--port");
        startInfo.ArgumentList.Add("not-a-port");

        using var process = Process.Start(startInfo)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var error = await process.StandardError.ReadToEndAsync(cts.Token);
        await process.WaitForExitAsync(cts.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("port", error, StringComparison.Ordinal);
    }
}
