using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// Reads ids from the request target exactly as sent, percent-decoding each once. ASP.NET's decoded path keeps
/// <c>%2F</c> encoded and its query parser turns <c>+</c> into a space; neither is right for ids that the Node SDK
/// interpolates raw and our sidecar percent-encodes (stigg-behaviour §2.1).
/// </summary>
internal static class RawRequest
{
    /// <summary>The <paramref name="index"/>-th path segment (0 = first after the leading slash), decoded.</summary>
    public static string? PathSegment(HttpContext http, int index)
    {
        var path = RawPath(http);
        var segments = path.TrimStart('/').Split('/');
        return index < segments.Length ? Decode(segments[index]) : null;
    }

    /// <summary>The first value of a query parameter, decoded; null when absent or empty.</summary>
    public static string? Query(HttpContext http, string name)
    {
        var target = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target))
        {
            // No raw target (an in-memory server): fall back to the decoded query.
            return http.Request.Query[name].ToString() is { Length: > 0 } decoded ? decoded : null;
        }

        var q = target.IndexOf('?', StringComparison.Ordinal);
        if (q < 0)
        {
            return null;
        }

        var query = target.AsSpan(q + 1);
        var hash = query.IndexOf('#');
        if (hash >= 0)
        {
            query = query[..hash];
        }

        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            var eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            if (string.Equals(Decode(key.ToString()), name, StringComparison.Ordinal))
            {
                var value = eq < 0 ? string.Empty : Decode(pair[(eq + 1)..].ToString());
                return value.Length == 0 ? null : value;
            }
        }

        return null;
    }

    private static string RawPath(HttpContext http)
    {
        var target = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target))
        {
            return http.Request.Path.Value ?? "/";
        }

        var q = target.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? target : target[..q];
        if (!path.StartsWith('/') && Uri.TryCreate(path, UriKind.Absolute, out var absolute))
        {
            // absolute-form request target (proxies): keep its still-encoded path.
            path = absolute.GetComponents(UriComponents.Path | UriComponents.KeepDelimiter, UriFormat.UriEscaped);
        }

        return path;
    }

    private static string Decode(string value)
    {
        try
        {
            return Uri.UnescapeDataString(value);
        }
        catch (UriFormatException)
        {
            return value;
        }
    }
}
