using System.Reflection;

namespace Sidecar.Host;

/// <summary>
/// The build's informational version, <c>1.0.0+&lt;commit&gt;</c> (the SDK appends <c>SourceRevisionId</c>, from git or
/// <c>-p:SourceRevisionId=</c>): printed by <c>--version</c>, sent as the User-Agent and exported as <c>sidecar_build_info</c>.
/// </summary>
internal static class SidecarVersion
{
    public static string Informational { get; } =
        typeof(SidecarVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static string UserAgent => "Sidecar.Aot/" + Informational;
}
