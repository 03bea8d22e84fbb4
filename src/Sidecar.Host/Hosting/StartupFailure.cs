using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Sidecar.Host.Configuration;

namespace Sidecar.Host.Hosting;

/// <summary>A start that cannot work, said in one line that names the variable to change.</summary>
internal sealed class StartupException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>Turns what a failed start threw into that one line (never a stack trace).</summary>
internal static class StartupFailure
{
    /// <summary>EROFS: .NET's IOException on Unix carries the errno as its HResult.</summary>
    public const int ReadOnlyFileSystemErrno = 30;

    public static string Describe(Exception ex, ServerSettings server)
    {
        if (ex is StartupException startup)
        {
            return startup.Message;
        }

        if (Find<SocketException>(ex) is { SocketErrorCode: SocketError.AccessDenied })
        {
            var (variable, port) = server.GrpcPort < 1024 ? ("GRPC_PORT", server.GrpcPort) : ("METRICS_PORT", server.MetricsPort);
            return $"{variable}: port {port} is privileged and this process is not root: set {variable} above 1023, or grant CAP_NET_BIND_SERVICE";
        }

        if (Find<AddressInUseException>(ex) is not null || Find<SocketException>(ex) is { SocketErrorCode: SocketError.AddressAlreadyInUse })
        {
            var (variable, port) = ex.ToString().Contains($":{server.MetricsPort}", StringComparison.Ordinal) && !ex.ToString().Contains($":{server.GrpcPort}", StringComparison.Ordinal)
                ? ("METRICS_PORT", server.MetricsPort)
                : ("GRPC_PORT", server.GrpcPort);
            return $"{variable}: port {port} is already in use by another process";
        }

        if (server.GrpcUnixSocket is { } socket && ex.ToString().Contains(socket, StringComparison.Ordinal))
        {
            return $"GRPC_UNIX_SOCKET: cannot listen on '{socket}': {ex.Message}";
        }

        return $"{ex.GetType().Name}: {ex.Message}";
    }

    /// <summary>
    /// Checks CACHE_DIR before FASTER or the outbox open it: a directory this process can create and write. A read-only
    /// filesystem is not a configuration mistake to refuse but a state to run through: it passes, and the tiers run
    /// without persistence (each says so once).
    /// </summary>
    public static void EnsureWritableDirectory(string directory)
    {
        if (File.Exists(directory))
        {
            throw new StartupException($"CACHE_DIR: '{directory}' is a file, not a directory");
        }

        var probe = Path.Combine(directory, ".write-test-" + Environment.ProcessId);
        try
        {
            Directory.CreateDirectory(directory);
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (IOException ex) when (ex.HResult == ReadOnlyFileSystemErrno)
        {
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"CACHE_DIR: cannot write to '{directory}': {ex.Message} (set CACHE_DIR to a writable directory, or CACHE_PERSISTENCE=none)", ex);
        }
    }

    private static T? Find<T>(Exception? ex)
        where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T found)
            {
                return found;
            }

            if (ex is AggregateException { InnerExceptions: var inner } && inner.Select(Find<T>).FirstOrDefault(e => e is not null) is { } nested)
            {
                return nested;
            }
        }

        return null;
    }
}
