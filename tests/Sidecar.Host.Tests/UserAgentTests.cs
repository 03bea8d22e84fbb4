using System.Net;
using System.Net.Sockets;

namespace Sidecar.Host.Tests;

public sealed class UserAgentTests
{
    [Fact]
    public async Task StiggRequest_UserAgentCarriesTheVersionWithTheCommit()
    {
        // A bare socket stands in for Stigg: the start-up API key check is the first request, and its headers are read raw.
        using var stigg = new TcpListener(IPAddress.Loopback, 0);
        stigg.Start();
        var env = new Dictionary<string, string>
        {
            ["SERVER_API_KEY"] = "key",
            ["API_URL"] = $"http://127.0.0.1:{((IPEndPoint)stigg.LocalEndpoint).Port}",
            ["WS_ENABLED"] = "false",
            ["CACHE_PERSISTENCE"] = "none",
        };
        await using var sidecar = await SidecarHost.StartAsync(env);

        using var connection = await stigg.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
        using var reader = new StreamReader(connection.GetStream());
        var headers = new List<string>();
        for (var line = await reader.ReadLineAsync(); !string.IsNullOrEmpty(line); line = await reader.ReadLineAsync())
        {
            headers.Add(line);
        }

        Assert.Contains($"User-Agent: Sidecar.Aot/{SidecarVersion.Informational}", headers);
    }
}
