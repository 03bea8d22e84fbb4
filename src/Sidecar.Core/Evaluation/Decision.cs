using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>The outcome of one access rule: allowed, or denied with a reason.</summary>
internal readonly record struct Decision(bool HasAccess, AccessDeniedReason? Reason)
{
    public static Decision Allow => new(true, null);

    public static Decision Deny(AccessDeniedReason reason) => new(false, reason);
}
