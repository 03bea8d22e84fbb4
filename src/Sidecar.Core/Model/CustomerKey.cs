namespace Sidecar.Core.Model;

/// <summary>
/// Identifies one cache entry: a customer, optionally scoped to a resource (Stigg keeps them apart, §4.7).
/// </summary>
public readonly record struct CustomerKey(string CustomerId, string? ResourceId)
{
    /// <summary>Stigg's cache key shape: <c>c_{customer}</c> or <c>c_{customer}:r_{resource}</c>.</summary>
    public override string ToString() =>
        ResourceId is null ? $"c_{CustomerId}" : $"c_{CustomerId}:r_{ResourceId}";

    /// <summary>The customer-level entry a resource entry depends on.</summary>
    public CustomerKey Global => new(CustomerId, null);
}
