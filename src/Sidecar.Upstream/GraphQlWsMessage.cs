using System.Text.Json;

namespace Sidecar.Upstream;

/// <summary>
/// One message a graphql-transport-ws server sent (other than <c>ping</c>/<c>pong</c>, which
/// <see cref="GraphQlWsConnection"/> handles itself): <c>connection_ack</c>, <c>next</c>, <c>error</c>,
/// <c>complete</c>, or a type this client does not know.
/// </summary>
/// <param name="Type">The message's <c>type</c>.</param>
/// <param name="Id">The subscription it belongs to, for <c>next</c>, <c>error</c> and <c>complete</c>.</param>
/// <param name="Payload">The <c>payload</c>: a GraphQL result for <c>next</c>, a list of errors for <c>error</c>.</param>
public readonly record struct GraphQlWsMessage(string Type, string? Id, JsonElement? Payload)
{
    /// <summary>
    /// The messages of an <c>error</c> payload, joined with "; ". The protocol sends a list of GraphQL errors; some
    /// servers send one error object.
    /// </summary>
    public string ErrorMessage()
    {
        if (Payload is not { } p)
        {
            return "no error payload";
        }

        if (p.ValueKind == JsonValueKind.Array)
        {
            var messages = new List<string>();
            foreach (var e in p.EnumerateArray())
            {
                if (MessageOf(e) is { } m)
                {
                    messages.Add(m);
                }
            }

            return messages.Count == 0 ? "error without a message" : string.Join("; ", messages);
        }

        return MessageOf(p) ?? "error without a message";
    }

    private static string? MessageOf(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
}
