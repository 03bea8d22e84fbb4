using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Sidecar.Upstream.Internal;

/// <summary>
/// The identification headers Stigg's SDK puts on every request and in the WebSocket <c>connection_init</c>
/// (stigg-behaviour §2.1). <c>X-API-VERSION</c> and <c>x-graphql-operation-name</c> are added per request.
/// </summary>
internal static class SdkHeaders
{
    public const string ApiKey = "X-API-KEY";
    public const string ApiVersion = "X-API-VERSION";
    public const string OperationName = "x-graphql-operation-name";

    private static readonly ProcessIdentity Process = ProcessIdentity.Create();

    /// <summary>The headers shared by Edge, GraphQL and WebSocket: key, source, instance and process identity.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Common(UpstreamOptions options) =>
    [
        new(ApiKey, options.ApiKey),
        new("source", options.Source),
        new("X-SDK-INSTANCE-ID", options.SdkInstanceId),
        new("X-SDK-OS-PROCESS-HOSTNAME", Process.HostName),
        new("X-SDK-OS-PROCESS-ID", Process.Pid),
        new("X-SDK-OS-PROCESS-TIMESTAMP", Process.Timestamp),
        new("X-SDK-OS-PROCESS-FINGERPRINT", Process.Fingerprint),
    ];

    private sealed record ProcessIdentity(string HostName, string Pid, string Timestamp, string Fingerprint)
    {
        public static ProcessIdentity Create()
        {
            var host = SafeHostName();
            var pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            var timestamp = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

            // An identifier, not a security boundary: Stigg's SDK sends the MD5 of the three values concatenated.
#pragma warning disable CA5351
            var hash = MD5.HashData(Encoding.UTF8.GetBytes(host + pid + timestamp));
#pragma warning restore CA5351
            return new ProcessIdentity(host, pid, timestamp, Convert.ToHexStringLower(hash));
        }

        private static string SafeHostName()
        {
            string name;
            try
            {
                name = Dns.GetHostName();
            }
            catch (System.Net.Sockets.SocketException)
            {
                name = Environment.MachineName;
            }

            // Header values must be visible ASCII; a hostname always is, but never let one break every request.
            foreach (var c in name)
            {
                if (c is < (char)0x21 or > (char)0x7e)
                {
                    return "unknown";
                }
            }

            return name.Length == 0 ? "unknown" : name;
        }
    }
}
