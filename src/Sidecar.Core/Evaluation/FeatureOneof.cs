using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// The one place a feature kind picks the typed entitlement oneof case (boolean / numeric / metered / enum).
/// </summary>
/// <remarks>
/// Three messages carry that oneof (<see cref="GetEntitlementResponse"/>, the legacy list's <see cref="Entitlement"/>
/// and <see cref="EntitlementV2"/>) and the case's content comes from an evaluated entitlement or from a fallback.
/// The generated messages live in Sidecar.Contract and share no interface, so small struct adapters stand in for
/// both sides; as generic struct arguments they are called directly (no boxing, no allocation): this is the hit path.
/// </remarks>
internal static class FeatureOneof
{
    public static void Set<TSource, TTarget>(TSource source, TTarget target)
        where TSource : struct, IFeatureOneofSource
        where TTarget : struct, IFeatureOneofTarget
    {
        switch (source.Kind)
        {
            case FeatureKind.Numeric:
                target.Set(source.Numeric());
                break;
            case FeatureKind.Metered:
                target.Set(source.Metered());
                break;
            case FeatureKind.Enum:
                target.Set(source.Enum());
                break;
            default:
                target.Set(source.Boolean());
                break;
        }
    }
}

/// <summary>Builds the message for each oneof case; <see cref="Kind"/> says which one is wanted.</summary>
internal interface IFeatureOneofSource
{
    FeatureKind Kind { get; }

    BooleanEntitlement Boolean();

    NumericEntitlement Numeric();

    MeteredEntitlement Metered();

    EnumEntitlement Enum();
}

/// <summary>Stores a message in a oneof case of one response message.</summary>
internal interface IFeatureOneofTarget
{
    void Set(BooleanEntitlement value);

    void Set(NumericEntitlement value);

    void Set(MeteredEntitlement value);

    void Set(EnumEntitlement value);
}

/// <summary>An entitlement the snapshot holds, with its effective (rolled-over) usage for the metered case.</summary>
internal readonly struct EvaluatedFeature(FeatureEntitlement entitlement, EffectiveUsage usage) : IFeatureOneofSource
{
    public FeatureKind Kind => entitlement.Kind;

    public BooleanEntitlement Boolean() => ProtoMapping.Boolean(entitlement);

    public NumericEntitlement Numeric() => ProtoMapping.Numeric(entitlement);

    public MeteredEntitlement Metered() => ProtoMapping.Metered(entitlement, usage);

    public EnumEntitlement Enum() => ProtoMapping.Enum(entitlement);
}

/// <summary>A fallback (or an empty answer: <c>default</c> values) for a feature we hold no data on.</summary>
internal readonly struct FallbackFeature(string featureId, FallbackValues fallback, FeatureKind kind) : IFeatureOneofSource
{
    public FeatureKind Kind => kind;

    public BooleanEntitlement Boolean() => ProtoMapping.BooleanFallback(featureId);

    public NumericEntitlement Numeric() => ProtoMapping.NumericFallback(featureId, fallback);

    public MeteredEntitlement Metered() => ProtoMapping.MeteredFallback(featureId, fallback);

    public EnumEntitlement Enum() => ProtoMapping.EnumFallback(featureId, fallback);
}

internal readonly struct GenericResponseTarget(GetEntitlementResponse message) : IFeatureOneofTarget
{
    public void Set(BooleanEntitlement value) => message.Boolean = value;

    public void Set(NumericEntitlement value) => message.Numeric = value;

    public void Set(MeteredEntitlement value) => message.Metered = value;

    public void Set(EnumEntitlement value) => message.Enum = value;
}

internal readonly struct ListItemTarget(Entitlement message) : IFeatureOneofTarget
{
    public void Set(BooleanEntitlement value) => message.Boolean = value;

    public void Set(NumericEntitlement value) => message.Numeric = value;

    public void Set(MeteredEntitlement value) => message.Metered = value;

    public void Set(EnumEntitlement value) => message.Enum = value;
}

internal readonly struct V2Target(EntitlementV2 message) : IFeatureOneofTarget
{
    public void Set(BooleanEntitlement value) => message.Boolean = value;

    public void Set(NumericEntitlement value) => message.Numeric = value;

    public void Set(MeteredEntitlement value) => message.Metered = value;

    public void Set(EnumEntitlement value) => message.Enum = value;
}
