using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sidecar.Testing;

/// <summary>
/// A real <c>redis-server</c> on a loopback port it has bound, without persistence. Fails (never skips) when the
/// binary is missing. Can be stopped and started again on the same port to simulate an outage (or, stopped first,
/// a Redis that is not running yet where a client is pointed).
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);
    private readonly string? _password;
    private readonly string _directory;
    private Process? _process;

    private RedisServer(int port, string? password)
    {
        Port = port;
        _password = password;
        _directory = Directory.CreateTempSubdirectory("sidecar-redis-").FullName;
    }

    public int Port { get; }

    public string? Password => _password;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>
    /// Starts a server on a candidate port; when another process took the port first (redis-server says "Address
    /// already in use"), starts again on a new one. The returned server holds <see cref="Port"/>.
    /// </summary>
    public static Task<RedisServer> StartAsync(string? password = null) =>
        LoopbackPort.StartAsync(port => StartOnPortAsync(port, password), "redis-server");

    private static async Task<RedisServer> StartOnPortAsync(int port, string? password)
    {
        var server = new RedisServer(port, password);
        try
        {
            await server.StartAsync().ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Starts (or restarts) the server on <see cref="Port"/> and returns once it answers PING. Throws
    /// <see cref="PortInUseException"/> when the port is taken, another exception for any other failure.
    /// </summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("The server is already running.");
        }

        var psi = new ProcessStartInfo(ResolveBinary())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        foreach (var arg in new[] { "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _directory })
        {
            psi.ArgumentList.Add(arg);
        }

        if (_password is not null)
        {
            psi.ArgumentList.Add("--requirepass");
            psi.ArgumentList.Add(_password);
        }

        var output = new StringBuilder();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new IOException("redis-server exited before it was ready"));
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
            }

            if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            }
        };

        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        try
        {
            await ready.Task.WaitAsync(StartTimeout).ConfigureAwait(false);
            await PingAsync().WaitAsync(StartTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or SocketException or IOException)
        {
            await StopAsync().ConfigureAwait(false);
            string said;
            lock (output)
            {
                said = output.ToString();
            }

            var message = $"redis-server on port {Port} did not become ready: {ex.Message}\n{said}";
            throw LoopbackPort.MentionsAddressInUse(said) ? new PortInUseException(message) : new InvalidOperationException(message, ex);
        }
    }

    /// <summary>Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync().WaitAsync(StartTimeout).ConfigureAwait(false);
        process.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp directory left behind is harmless.
        }
    }

    private async Task PingAsync()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
        var stream = client.GetStream();
        var command = _password is null ? "PING\r\n" : $"AUTH {_password}\r\nPING\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command)).ConfigureAwait(false);
        var buffer = new byte[256];
        var received = new StringBuilder();
        while (!received.ToString().Contains("+PONG", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException($"redis-server closed the connection; answered: {received}");
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    private static string ResolveBinary()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "redis-server is not on PATH. The Redis tests need a real server: install it (Debian/Ubuntu: `apt-get install -y redis-server`).");
    }
}

/// <summary>One server shared by the tests of a class; each test uses its own key prefix.</summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private RedisServer? _server;

    public RedisServer Server => _server ?? throw new InvalidOperationException("The fixture is not initialised.");

    public async Task InitializeAsync() => _server = await RedisServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
