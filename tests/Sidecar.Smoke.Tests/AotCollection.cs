using Sidecar.Testing;

namespace Sidecar.Smoke.Tests;

/// <summary>The smoke tests share one published AOT binary (the kit's <see cref="AotBinary"/> fixture).</summary>
[CollectionDefinition(Name)]
public sealed class AotCollection : ICollectionFixture<AotBinary>
{
    public const string Name = "aot";
}
