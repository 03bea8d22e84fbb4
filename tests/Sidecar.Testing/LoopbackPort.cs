using System.Net;
using System.Net.Sockets;

namespace Sidecar.Testing;

/// <summary>
/// Loopback ports for servers that must be told their port up front (redis-server, the sidecar binary, the
/// in-process host). A free port cannot be reserved for another process: asking the OS for port 0 and closing the
/// socket only yields a <em>candidate</em> that anyone may take before the server binds it. So the kit never hands a
/// test a port on its own — <see cref="StartAsync{T}(int, Func{IReadOnlyList{int}, Task{T}}, string)"/> starts the
/// server on candidates and, when the bind fails because the address is in use, starts it again on new ones. The
/// port a test then uses is one its server really holds. Servers that can bind port 0 themselves (the emulator,
/// Kestrel in tests) should do that instead.
/// </summary>
public static class LoopbackPort
{
    /// <summary>How many times a start is retried on "address in use" before the test fails.</summary>
    public const int Attempts = 8;

    /// <summary>
    /// A port nobody listened on a moment ago. Only a candidate: pass it to a server started through
    /// <see cref="StartAsync{T}(Func{int, Task{T}}, string)"/>, or use it where nothing must listen (a port a
    /// client is pointed at to find nobody there).
    /// </summary>
    public static int Candidate() => Candidates(1)[0];

    /// <summary><paramref name="count"/> distinct candidates (held together while picked, so they differ).</summary>
    public static int[] Candidates(int count)
    {
        var listeners = new TcpListener[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener?.Stop();
                listener?.Dispose();
            }
        }
    }

    /// <summary>Starts a server on one candidate port, again on a new one while the bind fails with "address in use".</summary>
    public static Task<T> StartAsync<T>(Func<int, Task<T>> start, string what) =>
        StartAsync(1, ports => start(ports[0]), what);

    /// <summary>
    /// Starts a server on <paramref name="count"/> candidate ports; when <paramref name="start"/> fails because an
    /// address is in use (<see cref="IsAddressInUse"/>), it has lost a race for a candidate and is called again with
    /// new ones. Any other failure is the test's to see, at once.
    /// </summary>
    public static async Task<T> StartAsync<T>(int count, Func<IReadOnlyList<int>, Task<T>> start, string what)
    {
        ArgumentNullException.ThrowIfNull(start);
        var lost = new List<Exception>();
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            try
            {
                return await start(Candidates(count)).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsAddressInUse(ex))
            {
                lost.Add(ex);
            }
        }

        throw new AggregateException($"{what} lost the race for a free loopback port {Attempts} times.", lost);
    }

    /// <summary>
    /// True when <paramref name="exception"/> (or one it wraps) says a listening address was already taken: a
    /// <see cref="PortInUseException"/>, a socket error <see cref="SocketError.AddressAlreadyInUse"/>, Kestrel's
    /// <c>AddressInUseException</c>, or an I/O error whose message says so (Kestrel's "Failed to bind").
    /// </summary>
    public static bool IsAddressInUse(Exception exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            if (ex is PortInUseException
                || ex is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
                || ex.GetType().Name == "AddressInUseException"
                || (ex is IOException && MentionsAddressInUse(ex.Message)))
            {
                return true;
            }

            if (ex is AggregateException aggregate && aggregate.InnerExceptions.Any(IsAddressInUse))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when a server's output says its bind failed because the address was in use.</summary>
    public static bool MentionsAddressInUse(string output) =>
        output.Contains("address already in use", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A server could not bind its port because another process holds it.</summary>
public sealed class PortInUseException(string message) : IOException(message);
