using Sidecar.Host.Configuration;

namespace Sidecar.Host;

/// <summary>
/// <c>sidecar health [--ready]</c>: probes this sidecar's own liveness (or readiness) endpoint on loopback and exits 0
/// when it answers 200 — so a distroless image, which has no curl, can run a HEALTHCHECK.
/// </summary>
internal static class HealthProbe
{
    public static int Run(string[] args)
    {
        var env = EnvReader.FromProcess();
        int port;
        string path;
        try
        {
            var server = ServerSettings.Load(env);
            port = server.MetricsPort;
            path = args.Contains("--ready") ? server.ReadyPath : server.HealthPath;
        }
        catch (SettingsException ex)
        {
            Console.Error.WriteLine("sidecar health: " + ex.Message);
            return 2;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = http.GetAsync(new Uri($"http://127.0.0.1:{port}{path}")).GetAwaiter().GetResult();
            Console.WriteLine($"{path}: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"{path}: unreachable ({ex.Message})");
            return 1;
        }
    }
}
