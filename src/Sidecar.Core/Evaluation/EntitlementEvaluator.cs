using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// Answers every read RPC from a customer snapshot: pure, no I/O, and on a hit it allocates only the response
/// messages. Rules: stigg-behaviour §4 (evaluation), §5 (fallback) and DESIGN decision 1.
/// </summary>
/// <remarks>
/// <para>
/// A null snapshot means no data could be obtained (upstream unreachable, offline): the answer is the fallback,
/// <c>is_fallback = true</c>. A snapshot is evaluated as given; refetching on an expired <c>validUntil</c> is the
/// cache's job.
/// </para>
/// <para>
/// One file per kind of answer: the typed getters (<c>.Typed.cs</c>), the generic and V2 getters
/// (<c>.Generic.cs</c>), the lists (<c>.Lists.cs</c>) and every fallback answer (<c>.Fallbacks.cs</c>). The
/// feature-kind to oneof mapping they share is <see cref="FeatureOneof"/>.
/// </para>
/// </remarks>
public static partial class EntitlementEvaluator
{
    /// <summary>
    /// The <c>ReloadEntitlements</c> answer (§4.8): the customer exists for entitlement purposes unless the
    /// upstream said otherwise; a customer without an active subscription still exists. No data: false.
    /// </summary>
    public static bool EntitledEntityExists(CustomerSnapshot? snapshot) =>
        snapshot is not null
        && snapshot.CustomerReason is null or AccessDeniedReason.NoActiveSubscription;
}
