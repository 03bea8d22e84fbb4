namespace Sidecar.LoadClient;

internal static class Commands
{
    /// <summary>Writes one gRPC request frame (prefix + message) for h2load's <c>-d</c>.</summary>
    public static int Encode(Options options)
    {
        var call = Requests.Build(options.Required("kind"), options.Optional("customer") ?? string.Empty, options.Optional("feature") ?? string.Empty);
        var path = options.Required("out");
        File.WriteAllBytes(path, call.Frame);
        JsonOut.Print(json =>
        {
            json.WriteString("path", call.Path);
            json.WriteString("file", path);
            json.WriteNumber("bytes", call.Frame.Length);
        });
        return 0;
    }

    /// <summary>One call, its decoded answer on stdout; fails on a non-OK status or (unless allowed) a fallback answer.</summary>
    public static async Task<int> CheckAsync(Options options)
    {
        var kind = options.Required("kind");
        var call = Requests.Build(kind, options.Optional("customer") ?? string.Empty, options.Optional("feature") ?? string.Empty);
        using var connection = new H2Connection(new Uri(options.Required("url")), TimeSpan.FromSeconds(options.Double("timeout", 10)));
        var buffer = new byte[1 << 20];
        var result = await connection.CallAsync(call, buffer, CancellationToken.None).ConfigureAwait(false);
        var payload = result.GrpcStatus == 0 ? Requests.Payload(buffer.AsSpan(0, Math.Min(result.BodyBytes, buffer.Length))).ToArray() : [];
        var fallback = result.GrpcStatus == 0 && Requests.IsFallback(kind, payload);
        JsonOut.Print(json =>
        {
            json.WriteString("path", call.Path);
            json.WriteNumber("grpcStatus", result.GrpcStatus);
            json.WriteBoolean("fallback", fallback);
            json.WriteString("response", result.GrpcStatus == 0 ? Requests.Describe(kind, payload) : string.Empty);
        });
        return result.GrpcStatus == 0 && (!fallback || options.Flag("allow-fallback")) ? 0 : 1;
    }
}
