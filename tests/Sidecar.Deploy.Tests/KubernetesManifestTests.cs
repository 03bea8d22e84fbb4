using System.Globalization;
using System.Text.Json.Nodes;

namespace Sidecar.Deploy.Tests;

/// <summary>deploy/kubernetes rendered by kubectl kustomize: the sidecar pattern (base) and the standalone overlay.</summary>
public sealed class KubernetesManifestTests
{
    private const string Base = "deploy/kubernetes/base";
    private const string Standalone = "deploy/kubernetes/overlays/standalone";

    [Fact]
    public async Task Base_RunsTheAppAndTheSidecarInOnePod_WithGrpcOnLoopbackOnly()
    {
        var pod = PodSpec((await Manifests.RenderAsync(Base)).Single("Deployment"));
        var containers = pod.Arr("containers");

        Assert.Equal(["app", "sidecar"], containers.Objects().Select(c => c.Str("name")).Order());
        var sidecar = containers.Named("sidecar");
        Assert.Equal("127.0.0.1", sidecar.Env("BIND_ADDRESS"));
        Assert.NotNull(sidecar.Env("GRPC_PORT"));
        // Nothing outside the pod can reach a loopback port, so none is published.
        Assert.Null(sidecar["ports"]);
    }

    [Fact]
    public async Task Base_ProbesTheSidecarsLiveAndReadyEndpoints_FromInsideTheContainer()
    {
        var sidecar = PodSpec((await Manifests.RenderAsync(Base)).Single("Deployment")).Arr("containers").Named("sidecar");

        // With BIND_ADDRESS=127.0.0.1 the kubelet (which dials the pod IP) cannot reach METRICS_PORT: the binary's own
        // probe calls /livez (no flag) or /readyz (--ready) on it over loopback.
        Assert.Equal(["/app/sidecar", "health"], ExecCommand(sidecar, "livenessProbe"));
        Assert.Equal(["/app/sidecar", "health", "--ready"], ExecCommand(sidecar, "readinessProbe"));
        Assert.Equal(["/app/sidecar", "health", "--ready"], ExecCommand(sidecar, "startupProbe"));
        Assert.Null(sidecar.Env("HEALTH_ENDPOINT_URL"));
        Assert.Null(sidecar.Env("READY_ENDPOINT_URL"));
    }

    [Theory]
    [InlineData(Base)]
    [InlineData(Standalone)]
    public async Task Sidecar_KeepsItsCacheOnAnEmptyDir(string directory)
    {
        var pod = PodSpec((await Manifests.RenderAsync(directory)).Single("Deployment"));
        var sidecar = pod.Arr("containers").Named("sidecar");

        var cacheDir = sidecar.Env("CACHE_DIR");
        Assert.NotNull(cacheDir);
        var mount = Assert.Single(sidecar.Arr("volumeMounts").Objects(), m => IsUnder(cacheDir, m.Str("mountPath")!));
        var volume = pod.Arr("volumes").Named(mount.Str("name")!);
        Assert.NotNull(volume["emptyDir"]);
    }

    [Theory]
    [InlineData(Base)]
    [InlineData(Standalone)]
    public async Task Sidecar_TakesTheApiKeyFromASecret(string directory)
    {
        var sidecar = PodSpec((await Manifests.RenderAsync(directory)).Single("Deployment")).Arr("containers").Named("sidecar");

        var key = sidecar.Arr("env").Named("SERVER_API_KEY");
        Assert.Null(key["value"]);
        var secret = key.Obj("valueFrom").Obj("secretKeyRef");
        Assert.False(string.IsNullOrEmpty(secret.Str("name")));
        Assert.False(string.IsNullOrEmpty(secret.Str("key")));
    }

    [Theory]
    [InlineData(Base)]
    [InlineData(Standalone)]
    public async Task EveryContainer_RunsNonRoot_ReadOnly_WithoutCapabilities_UnderRuntimeDefaultSeccomp(string directory)
    {
        var pod = PodSpec((await Manifests.RenderAsync(directory)).Single("Deployment"));

        var podSecurity = pod.Obj("securityContext");
        Assert.Equal("true", podSecurity.Str("runAsNonRoot"));
        Assert.Equal("RuntimeDefault", podSecurity.Obj("seccompProfile").Str("type"));
        foreach (var container in pod.Arr("containers").Objects())
        {
            var security = container.Obj("securityContext");
            Assert.Equal("true", security.Str("readOnlyRootFilesystem"));
            Assert.Equal("false", security.Str("allowPrivilegeEscalation"));
            Assert.Contains("ALL", security.Obj("capabilities").Arr("drop").Select(d => (string?)d));
        }
    }

    [Theory]
    [InlineData(Base)]
    [InlineData(Standalone)]
    public async Task EveryContainer_HasRequestsAndLimits_AndTheSidecarRoomForItsMeasuredPeak(string directory)
    {
        var pod = PodSpec((await Manifests.RenderAsync(directory)).Single("Deployment"));

        foreach (var container in pod.Arr("containers").Objects())
        {
            var resources = container.Obj("resources");
            Assert.NotNull(resources.Obj("requests").Str("cpu"));
            Assert.NotNull(resources.Obj("requests").Str("memory"));
            Assert.NotNull(resources.Obj("limits").Str("memory"));
        }

        // bench/RESULTS.md: 330 MB peak RSS with 10,000 customers cached under load.
        var limit = pod.Arr("containers").Named("sidecar").Obj("resources").Obj("limits").Str("memory")!;
        Assert.True(Mebibytes(limit) >= 384, $"sidecar memory limit {limit}");
    }

    [Fact]
    public async Task Standalone_RunsTheSidecarAlone_OnAllInterfaces_ProbedOverHttpOnTheMetricsPort()
    {
        var pod = PodSpec((await Manifests.RenderAsync(Standalone)).Single("Deployment"));

        var sidecar = Assert.Single(pod.Arr("containers").Objects());
        Assert.Equal("sidecar", sidecar.Str("name"));
        Assert.Null(sidecar.Env("BIND_ADDRESS"));
        var metricsPort = sidecar.Env("METRICS_PORT");
        Assert.Equal("/livez", HttpProbe(sidecar, "livenessProbe", metricsPort));
        Assert.Equal("/readyz", HttpProbe(sidecar, "readinessProbe", metricsPort));
        Assert.Equal("/readyz", HttpProbe(sidecar, "startupProbe", metricsPort));
    }

    [Fact]
    public async Task Standalone_ServiceAndDisruptionBudget_SelectTheSidecarPods()
    {
        var manifests = await Manifests.RenderAsync(Standalone);
        var deployment = manifests.Single("Deployment");
        var labels = deployment.Obj("spec").Obj("template").Obj("metadata").Obj("labels");
        var sidecar = PodSpec(deployment).Arr("containers").Named("sidecar");

        var service = manifests.Single("Service").Obj("spec");
        Assert.True(service.Obj("selector").Selects(labels), service.ToJsonString());
        var grpc = service.Arr("ports").Named("grpc");
        Assert.Equal(sidecar.Env("GRPC_PORT"), ContainerPort(sidecar, grpc.Str("targetPort")!));

        var pdb = manifests.Single("PodDisruptionBudget").Obj("spec");
        Assert.True(pdb.Obj("selector").Obj("matchLabels").Selects(labels), pdb.ToJsonString());
        var minAvailable = int.Parse(pdb.Str("minAvailable")!, CultureInfo.InvariantCulture);
        var replicas = int.Parse(deployment.Obj("spec").Str("replicas")!, CultureInfo.InvariantCulture);
        Assert.InRange(minAvailable, 1, replicas - 1); // at least one serving, yet a drain can evict one
    }

    [Fact]
    public async Task Standalone_NetworkPolicy_AdmitsGrpcOnlyFromTheApplicationsPods()
    {
        var manifests = await Manifests.RenderAsync(Standalone);
        var deployment = manifests.Single("Deployment");
        var labels = deployment.Obj("spec").Obj("template").Obj("metadata").Obj("labels");
        var sidecar = PodSpec(deployment).Arr("containers").Named("sidecar");
        var grpcPort = sidecar.Env("GRPC_PORT")!;

        var policy = manifests.Single("NetworkPolicy").Obj("spec");
        Assert.True(policy.Obj("podSelector").Obj("matchLabels").Selects(labels));
        Assert.Contains("Ingress", policy.Arr("policyTypes").Select(t => (string?)t));
        var rules = policy.Arr("ingress").Objects().ToList();
        Assert.NotEmpty(rules);
        foreach (var rule in rules)
        {
            // A rule without ports admits every port, one without sources every pod, namespace and address.
            var ports = rule.Arr("ports").Objects().Select(p => ContainerPort(sidecar, p.Str("port")!)).ToList();
            var sources = rule.Arr("from").Objects().ToList();
            Assert.NotEmpty(ports);
            Assert.NotEmpty(sources);
            if (ports.Contains(grpcPort))
            {
                var source = Assert.Single(sources);
                Assert.Equal(["podSelector"], source.Select(kv => kv.Key));
                var appLabels = source.Obj("podSelector").Obj("matchLabels");
                Assert.NotEmpty(appLabels);
                Assert.False(appLabels.Selects(labels), "the sidecar's own pods are not the application");
            }
        }
    }

    private static JsonObject PodSpec(JsonObject deployment) => deployment.Obj("spec").Obj("template").Obj("spec");

    private static IReadOnlyList<string?> ExecCommand(JsonObject container, string probe) =>
        [.. container.Obj(probe).Obj("exec").Arr("command").Select(c => (string?)c)];

    /// <summary>The path an httpGet probe asks, after checking it targets the metrics port.</summary>
    private static string? HttpProbe(JsonObject container, string probe, string? metricsPort)
    {
        var get = container.Obj(probe).Obj("httpGet");
        Assert.Equal(metricsPort, ContainerPort(container, get.Str("port")!));
        return get.Str("path");
    }

    /// <summary>A port given by number or by the name of one of the container's ports, as a number.</summary>
    private static string ContainerPort(JsonObject container, string port) =>
        int.TryParse(port, CultureInfo.InvariantCulture, out _) ? port : container.Arr("ports").Named(port).Str("containerPort")!;

    private static bool IsUnder(string path, string directory) =>
        path == directory || path.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal);

    private static double Mebibytes(string quantity) => quantity switch
    {
        _ when quantity.EndsWith("Gi", StringComparison.Ordinal) => double.Parse(quantity[..^2], CultureInfo.InvariantCulture) * 1024,
        _ when quantity.EndsWith("Mi", StringComparison.Ordinal) => double.Parse(quantity[..^2], CultureInfo.InvariantCulture),
        _ when quantity.EndsWith('M') => double.Parse(quantity[..^1], CultureInfo.InvariantCulture) * 1e6 / (1 << 20),
        _ => double.Parse(quantity, CultureInfo.InvariantCulture) / (1 << 20),
    };
}
