using System.Net;
using Sidecar.Host.Configuration;

namespace Sidecar.Host;

/// <summary>
/// <c>sidecar health [--ready]</c>: probes this sidecar's own liveness (or readiness) endpoint and exits 0 when it
/// answers 200 — so a distroless image, which has no curl, can run a HEALTHCHECK. It goes where the sidecar listens:
/// BIND_ADDRESS, or loopback when the sidecar binds every interface.
/// </summary>
internal static class HealthProbe
{
    public static int Run(bool ready, TextWriter stdout, TextWriter stderr)
    {
        Uri url;
        string path;
        try
        {
            var server = ServerSettings.Load(EnvReader.FromProcess());
            path = ready ? server.ReadyPath : server.HealthPath;
            url = new Uri($"http://{new IPEndPoint(ProbeAddress(server.BindAddress), server.MetricsPort)}{path}");
        }
        catch (SettingsException ex)
        {
            stderr.WriteLine("sidecar health: " + ex.Message);
            return CommandLine.UsageError;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = http.GetAsync(url).GetAwaiter().GetResult();
            stdout.WriteLine($"{path}: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            stderr.WriteLine($"{url}: unreachable ({ex.Message})");
            return 1;
        }
    }

    /// <summary>The address to reach a sidecar bound to <paramref name="bind"/>: a wildcard is reached on loopback of its family.</summary>
    public static IPAddress ProbeAddress(IPAddress? bind) => bind switch
    {
        null => IPAddress.Loopback,
        _ when bind.Equals(IPAddress.Any) => IPAddress.Loopback,
        _ when bind.Equals(IPAddress.IPv6Any) => IPAddress.IPv6Loopback,
        _ => bind,
    };
}
