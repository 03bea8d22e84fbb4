using Grpc.Core;
using Sidecar.Core.Model;
using Sidecar.Host.Configuration;

namespace Sidecar.Host.Rpc;

/// <summary>Turns bad requests into INVALID_ARGUMENT with a message that names the field (DESIGN decision 7).</summary>
internal static class RequestValidation
{
    public static CustomerKey Key(string customerId, bool hasResourceId, string resourceId, string prefix = "")
    {
        Required(customerId, prefix + "customer_id");
        if (hasResourceId)
        {
            Optional(resourceId, prefix + "resource_id");
        }

        return new CustomerKey(customerId, hasResourceId && resourceId.Length > 0 ? resourceId : null);
    }

    /// <summary>The entry and the feature a typed check asks about; <c>feature_id</c> is required.</summary>
    public static CustomerKey FeatureCheck(string customerId, bool hasResourceId, string resourceId, string featureId)
    {
        var key = Key(customerId, hasResourceId, resourceId);
        Required(featureId, "feature_id");
        return key;
    }

    /// <summary>Options' <c>requested_usage</c>, when given, must be a finite number.</summary>
    public static void RequestedUsage(bool hasRequestedUsage, double requestedUsage)
    {
        if (hasRequestedUsage)
        {
            Finite(requestedUsage, "options.requested_usage");
        }
    }

    public static void Required(string value, string field)
    {
        if (value.Length == 0)
        {
            throw Invalid($"{field}: must not be empty");
        }

        Optional(value, field);
    }

    public static void Optional(string value, string field)
    {
        if (value.Length > SidecarSettings.MaxIdLength)
        {
            throw Invalid($"{field}: longer than {SidecarSettings.MaxIdLength} characters ({value.Length})");
        }
    }

    public static void Finite(double value, string field)
    {
        if (!double.IsFinite(value))
        {
            throw Invalid($"{field}: must be a finite number");
        }
    }

    public static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
