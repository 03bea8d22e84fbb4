using System.Text.Json.Nodes;
using Sidecar.Testing;
using YamlDotNet.RepresentationModel;

namespace Sidecar.Deploy.Tests;

/// <summary>A kustomize directory rendered by <c>kubectl kustomize</c>, each object as a JSON tree to navigate.</summary>
internal sealed class Manifests
{
    private Manifests(IReadOnlyList<JsonObject> objects) => Objects = objects;

    public IReadOnlyList<JsonObject> Objects { get; }

    public static async Task<Manifests> RenderAsync(string relativeDirectory)
    {
        var result = await Tools.RunAsync(Tools.Kubectl, "kustomize", Path.Combine(RepoPaths.Root, relativeDirectory));
        Assert.True(result.ExitCode == 0, result.ToString());
        var stream = new YamlStream();
        stream.Load(new StringReader(result.Stdout));
        return new Manifests([.. stream.Documents.Select(d => (JsonObject)ToJson(d.RootNode)!)]);
    }

    public JsonObject Single(string kind) => Assert.Single(Objects, o => Kind(o) == kind);

    public IEnumerable<JsonObject> OfKind(string kind) => Objects.Where(o => Kind(o) == kind);

    private static string? Kind(JsonObject o) => (string?)o["kind"];

    /// <summary>Scalars stay strings (kubectl prints ports and booleans unquoted; tests compare their text).</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv =>
            KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(ToJson)]),
        YamlScalarNode scalar => scalar.Value is null ? null : JsonValue.Create(scalar.Value),
        _ => throw new InvalidOperationException("unexpected YAML node " + node.NodeType),
    };
}

/// <summary>Navigation over the rendered objects, with failures that name what was missing.</summary>
internal static class Json
{
    public static JsonObject Obj(this JsonNode? node, string name) =>
        node?[name] as JsonObject ?? throw new Xunit.Sdk.XunitException($"no object '{name}' in {node?.ToJsonString()}");

    public static JsonArray Arr(this JsonNode? node, string name) =>
        node?[name] as JsonArray ?? throw new Xunit.Sdk.XunitException($"no list '{name}' in {node?.ToJsonString()}");

    public static string? Str(this JsonNode? node, string name) => node?[name] is JsonValue v ? (string?)v : null;

    public static IEnumerable<JsonObject> Objects(this JsonArray array) => array.OfType<JsonObject>();

    public static JsonObject Named(this JsonArray array, string name) =>
        array.Objects().SingleOrDefault(o => o.Str("name") == name)
        ?? throw new Xunit.Sdk.XunitException($"no entry named '{name}' in {array.ToJsonString()}");

    /// <summary>The literal value of a container's environment variable (null when absent or taken from elsewhere).</summary>
    public static string? Env(this JsonObject container, string name) =>
        container["env"] is JsonArray env ? env.Objects().SingleOrDefault(e => e.Str("name") == name)?.Str("value") : null;

    /// <summary>True when every label of <paramref name="selector"/> is on <paramref name="labels"/> with its value.</summary>
    public static bool Selects(this JsonObject selector, JsonObject labels) =>
        selector.Count > 0 && selector.All(kv => labels.Str(kv.Key) is { } v && v == (string?)kv.Value);
}
