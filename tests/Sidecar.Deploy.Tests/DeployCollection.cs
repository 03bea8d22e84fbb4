using Sidecar.Testing;

namespace Sidecar.Deploy.Tests;

/// <summary>The tests that run the published AOT binary share one (the kit's <see cref="AotBinary"/> fixture).</summary>
[CollectionDefinition(Name)]
public sealed class DeployCollection : ICollectionFixture<AotBinary>
{
    public const string Name = "deploy-aot";
}
