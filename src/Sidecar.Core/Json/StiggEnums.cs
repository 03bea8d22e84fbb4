using Stigg.Sidecar.V1;

namespace Sidecar.Core.Json;

/// <summary>Maps Stigg's GraphQL enum strings to the contract's protobuf enums and back.</summary>
public static class StiggEnums
{
    public static AccessDeniedReason? ParseReason(string? value) => value switch
    {
        null or "" => null,
        "Unknown" => AccessDeniedReason.Unknown,
        "CustomerIsArchived" => AccessDeniedReason.CustomerIsArchived,
        "CustomerNotFound" => AccessDeniedReason.CustomerNotFound,
        "CustomerResourceNotFound" => AccessDeniedReason.CustomerResourceNotFound,
        "FeatureNotFound" => AccessDeniedReason.FeatureNotFound,
        "NoActiveSubscription" => AccessDeniedReason.NoActiveSubscription,
        "NoFeatureEntitlementInSubscription" => AccessDeniedReason.NoFeatureEntitlementInSubscription,
        "RequestedUsageExceedingLimit" => AccessDeniedReason.RequestedUsageExceedingLimit,
        "BudgetExceeded" => AccessDeniedReason.BudgetExceeded,
        "RequestedValuesMismatch" => AccessDeniedReason.RequestedValuesMismatch,
        "FeatureTypeMismatch" => AccessDeniedReason.FeatureTypeMismatch,
        "InsufficientCredits" => AccessDeniedReason.InsufficientCredits,
        "Revoked" => AccessDeniedReason.Revoked,
        "EntitlementNotFound" => AccessDeniedReason.EntitlementNotFound,
        _ => AccessDeniedReason.Unknown,
    };

    public static string? FormatReason(AccessDeniedReason? value) => value switch
    {
        null or AccessDeniedReason.Unspecified => null,
        AccessDeniedReason.Unknown => "Unknown",
        AccessDeniedReason.CustomerIsArchived => "CustomerIsArchived",
        AccessDeniedReason.CustomerNotFound => "CustomerNotFound",
        AccessDeniedReason.CustomerResourceNotFound => "CustomerResourceNotFound",
        AccessDeniedReason.FeatureNotFound => "FeatureNotFound",
        AccessDeniedReason.NoActiveSubscription => "NoActiveSubscription",
        AccessDeniedReason.NoFeatureEntitlementInSubscription => "NoFeatureEntitlementInSubscription",
        AccessDeniedReason.RequestedUsageExceedingLimit => "RequestedUsageExceedingLimit",
        AccessDeniedReason.BudgetExceeded => "BudgetExceeded",
        AccessDeniedReason.RequestedValuesMismatch => "RequestedValuesMismatch",
        AccessDeniedReason.FeatureTypeMismatch => "FeatureTypeMismatch",
        AccessDeniedReason.InsufficientCredits => "InsufficientCredits",
        AccessDeniedReason.Revoked => "Revoked",
        AccessDeniedReason.EntitlementNotFound => "EntitlementNotFound",
        _ => "Unknown",
    };

    public static FeatureType ParseFeatureType(string? value) => value?.ToUpperInvariant() switch
    {
        "BOOLEAN" => FeatureType.Boolean,
        "NUMBER" => FeatureType.Number,
        "ENUM" => FeatureType.Enum,
        _ => FeatureType.Unspecified,
    };

    public static string? FormatFeatureType(FeatureType value) => value switch
    {
        FeatureType.Boolean => "BOOLEAN",
        FeatureType.Number => "NUMBER",
        FeatureType.Enum => "ENUM",
        _ => null,
    };

    public static MeterType ParseMeterType(string? value) => value?.ToUpperInvariant() switch
    {
        null => MeterType.Unspecified,
        "NONE" => MeterType.None,
        "FLUCTUATING" => MeterType.Fluctuating,
        "INCREMENTAL" => MeterType.Incremental,
        _ => MeterType.Unspecified,
    };

    public static string? FormatMeterType(MeterType value) => value switch
    {
        MeterType.None => "None",
        MeterType.Fluctuating => "Fluctuating",
        MeterType.Incremental => "Incremental",
        _ => null,
    };

    public static EntitlementResetPeriod? ParseResetPeriod(string? value) => value?.ToUpperInvariant() switch
    {
        "DAY" => EntitlementResetPeriod.Day,
        "HOUR" => EntitlementResetPeriod.Hour,
        "WEEK" => EntitlementResetPeriod.Week,
        "MONTH" => EntitlementResetPeriod.Month,
        "YEAR" => EntitlementResetPeriod.Year,
        _ => null,
    };

    public static string? FormatResetPeriod(EntitlementResetPeriod? value) => value switch
    {
        EntitlementResetPeriod.Day => "DAY",
        EntitlementResetPeriod.Hour => "HOUR",
        EntitlementResetPeriod.Week => "WEEK",
        EntitlementResetPeriod.Month => "MONTH",
        EntitlementResetPeriod.Year => "YEAR",
        _ => null,
    };
}
