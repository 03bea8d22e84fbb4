using System.Diagnostics;

namespace Sidecar.LoadClient;

/// <summary>
/// Starts a server and times exec to its first 200 on the readiness URL, polling every millisecond. The server is
/// started through <c>sh -c 'exec …'</c> (so its output goes to a log file and its pid is the one printed) and is left
/// running: the caller stops it.
/// </summary>
internal static class ExecReady
{
    public static async Task<int> RunAsync(Options options)
    {
        var readyUrl = new Uri(options.Required("ready-url"));
        var log = Path.GetFullPath(options.Required("log"));
        var timeout = TimeSpan.FromSeconds(options.Double("timeout", 60));
        if (options.Rest.Count == 0)
        {
            throw new OptionException("exec-ready needs the command after --");
        }

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(1) })
        {
            Timeout = TimeSpan.FromSeconds(2),
        };
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$BENCH_EXEC_LOG\" 2>&1 </dev/null");
        foreach (var arg in options.Rest)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["BENCH_EXEC_LOG"] = log;

        // Warm the HTTP stack first so the first poll costs what later ones do.
        try
        {
            using var _ = await http.GetAsync(readyUrl).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
        }

        var started = Stopwatch.GetTimestamp();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start " + options.Rest[0]);
        var deadline = started + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
            {
                await Console.Error.WriteLineAsync($"sidecar-load: {options.Rest[0]} exited with {process.ExitCode} before it was ready (log: {log})").ConfigureAwait(false);
                return 1;
            }

            try
            {
                using var response = await http.GetAsync(readyUrl).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    var readyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    JsonOut.Print(json =>
                    {
                        json.WriteNumber("pid", process.Id);
                        json.WriteNumber("readyMs", Math.Round(readyMs, 1));
                    });
                    return 0;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(1).ConfigureAwait(false);
        }

        await Console.Error.WriteLineAsync($"sidecar-load: {readyUrl} not ready after {timeout.TotalSeconds} s; stopping pid {process.Id}").ConfigureAwait(false);
        process.Kill();
        return 1;
    }
}
