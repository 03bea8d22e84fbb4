using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;

namespace Sidecar.Testing;

/// <summary>
/// A sidecar running as a real OS process (the AOT binary, or the managed build through <c>dotnet</c>), with its
/// stdout/stderr captured line by line, readiness awaited over HTTP, and stop by SIGTERM or SIGKILL.
/// </summary>
public sealed class SidecarProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SidecarProcess(Process process, int grpcPort, int metricsPort, IPAddress address)
    {
        _process = process;
        GrpcPort = grpcPort;
        MetricsPort = metricsPort;
        Address = address;
    }

    /// <summary>Where the sidecar is reached: its BIND_ADDRESS, or IPv4 loopback when it binds every interface.</summary>
    public IPAddress Address { get; }

    public int GrpcPort { get; }

    public int MetricsPort { get; }

    public IReadOnlyCollection<string> Output => _lines;

    public bool HasExited => _process.HasExited;

    /// <summary>The OS process id (to read /proc/PID/status).</summary>
    public int ProcessId => _process.Id;

    public int ExitCode => _process.ExitCode;

    public Uri GrpcAddress => new($"http://{new IPEndPoint(Address, GrpcPort)}");

    public Uri MetricsAddress => new($"http://{new IPEndPoint(Address, MetricsPort)}");

    /// <summary>
    /// Starts a sidecar that serves and waits until it is ready. GRPC_PORT and METRICS_PORT, unless
    /// <paramref name="env"/> sets them, are candidates: when the sidecar refuses to start because one was taken in
    /// the meantime, it is started again on new ones, so the ports of the returned process are ports it holds.
    /// </summary>
    public static Task<SidecarProcess> StartReadyAsync(
        string executable,
        IReadOnlyDictionary<string, string> env,
        TimeSpan readyTimeout,
        string? workingDirectory = null)
    {
        var pickGrpc = !env.ContainsKey("GRPC_PORT");
        var pickMetrics = !env.ContainsKey("METRICS_PORT");
        return LoopbackPort.StartAsync(2, async ports =>
        {
            var withPorts = new Dictionary<string, string>(env);
            if (pickGrpc)
            {
                withPorts["GRPC_PORT"] = ports[0].ToString(CultureInfo.InvariantCulture);
            }

            if (pickMetrics)
            {
                withPorts["METRICS_PORT"] = ports[1].ToString(CultureInfo.InvariantCulture);
            }

            var sidecar = Start(executable, withPorts, workingDirectory);
            try
            {
                await sidecar.WaitReadyAsync(readyTimeout).ConfigureAwait(false);
                return sidecar;
            }
            catch (InvalidOperationException) when (sidecar.HasExited && (pickGrpc || pickMetrics) && LoopbackPort.MentionsAddressInUse(string.Join('\n', sidecar.Output)))
            {
                await sidecar.DisposeAsync().ConfigureAwait(false);
                throw new PortInUseException("the sidecar's port was taken before it bound it:\n" + string.Join('\n', sidecar.Output));
            }
            catch
            {
                await sidecar.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }, "the sidecar");
    }

    /// <summary>
    /// Starts <paramref name="executable"/> (a native binary, or a .dll run through dotnet) with only the given
    /// environment, and returns at once: for runs that are expected to exit (bad settings, the health subcommand) or
    /// whose ports the test holds itself. A sidecar that should serve is started by <see cref="StartReadyAsync"/>.
    /// </summary>
    public static SidecarProcess Start(string executable, IReadOnlyDictionary<string, string> env, string? workingDirectory = null, params string[] args)
    {
        // Ports as the sidecar will read them (a test of bad values passes a value that is no number at all).
        var grpcPort = env.TryGetValue("GRPC_PORT", out var g) && int.TryParse(g, out var gp) ? gp : 80;
        var metricsPort = env.TryGetValue("METRICS_PORT", out var m) && int.TryParse(m, out var mp) ? mp : 8080;
        var address = env.TryGetValue("BIND_ADDRESS", out var b) && IPAddress.TryParse(b, out var bound)
            && !bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any) ? bound : IPAddress.Loopback;
        var isDll = executable.EndsWith(".dll", StringComparison.Ordinal);
        var info = new ProcessStartInfo(isDll ? "dotnet" : executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        if (isDll)
        {
            info.ArgumentList.Add(executable);
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        // A clean environment: only PATH/HOME/DOTNET_* survive, so the machine's variables cannot leak into a test.
        var keep = info.Environment.Where(kv => kv.Key is "PATH" or "HOME" or "DOTNET_ROOT" || kv.Key.StartsWith("DOTNET_", StringComparison.Ordinal)).ToList();
        info.Environment.Clear();
        foreach (var (k, v) in keep)
        {
            info.Environment[k] = v;
        }

        foreach (var (k, v) in env)
        {
            info.Environment[k] = v;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var sidecar = new SidecarProcess(process, grpcPort, metricsPort, address);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { sidecar._lines.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { sidecar._lines.Enqueue(e.Data); } };
        process.Exited += (_, _) => sidecar._exited.TrySetResult();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return sidecar;
    }

    /// <summary>
    /// Polls readiness until it answers 200; fails with the process output (as an <see cref="InvalidOperationException"/>)
    /// as soon as the process exits, or when the deadline passes.
    /// </summary>
    public async Task<TimeSpan> WaitReadyAsync(TimeSpan timeout, string path = "/readyz")
    {
        var started = Stopwatch.StartNew();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var url = new Uri(MetricsAddress, path);
        try
        {
            await Eventually.TrueAsync(
                async () =>
                {
                    if (_process.HasExited)
                    {
                        // Let the output readers drain before quoting them.
                        await _process.WaitForExitAsync().ConfigureAwait(false);
                        throw new InvalidOperationException($"sidecar exited with {_process.ExitCode}:\n{string.Join('\n', _lines)}");
                    }

                    try
                    {
                        using var response = await http.GetAsync(url).ConfigureAwait(false);
                        return response.StatusCode == HttpStatusCode.OK;
                    }
                    catch (HttpRequestException)
                    {
                        return false; // not listening yet
                    }
                },
                timeout,
                $"sidecar ready at {url}").ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"sidecar not ready after {timeout}:\n{string.Join('\n', _lines)}", ex);
        }

        return started.Elapsed;
    }

    public async Task<int> StopAsync(TimeSpan timeout, bool kill = false)
    {
        if (!_process.HasExited)
        {
            if (kill)
            {
                _process.Kill(entireProcessTree: true);
            }
            else
            {
                _ = SysKill(_process.Id, 15);
            }
        }

        await _exited.Task.WaitAsync(timeout).ConfigureAwait(false);
        await _process.WaitForExitAsync().ConfigureAwait(false);
        return _process.ExitCode;
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        await _exited.Task.WaitAsync(timeout).ConfigureAwait(false);
        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);
}
