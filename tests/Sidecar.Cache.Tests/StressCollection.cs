namespace Sidecar.Cache.Tests;

/// <summary>
/// Test classes that saturate the CPU on purpose (many tasks racing on one tier). On a 2-core machine they starve the
/// thread pool that the Redis client's completions and FASTER's I/O run on, and a real-server round trip in a test
/// running beside them can then exceed its timeout. They run alone, after the parallel classes.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressCollection
{
    public const string Name = "cpu-saturating";
}
