using System.Net;
using System.Net.Sockets;

namespace Sidecar.Tests.Shared;

/// <summary>Free loopback TCP ports for servers that take a port number rather than binding port 0 themselves.</summary>
internal static class TestPorts
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
