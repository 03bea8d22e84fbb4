using Grpc.Core;
using Sidecar.Core.Model;
using Sidecar.Host.Configuration;

namespace Sidecar.Host.Rpc;

/// <summary>Turns bad requests into INVALID_ARGUMENT with a message that names the field (DESIGN decision 7).</summary>
internal static class RequestValidation
{
    private const long MinTimestampSeconds = -62_135_596_800;
    private const long MaxTimestampSeconds = 253_402_300_799;

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

    /// <summary>
    /// A <c>google.protobuf.Timestamp</c> that can be a date: seconds from 0001-01-01 to 9999-12-31 and nanos in
    /// 0–999,999,999, as the Timestamp spec requires (anything else cannot be converted, and must not throw later).
    /// </summary>
    public static void Timestamp(Google.Protobuf.WellKnownTypes.Timestamp? timestamp, string field)
    {
        if (timestamp is null)
        {
            return;
        }

        if (timestamp.Seconds is < MinTimestampSeconds or > MaxTimestampSeconds)
        {
            throw Invalid($"{field}: seconds must be between {MinTimestampSeconds} (0001-01-01) and {MaxTimestampSeconds} (9999-12-31), got {timestamp.Seconds}");
        }

        if (timestamp.Nanos is < 0 or > 999_999_999)
        {
            throw Invalid($"{field}: nanos must be between 0 and 999999999, got {timestamp.Nanos}");
        }
    }

    public static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
