namespace Sidecar.Upstream.Internal;

/// <summary>
/// The GraphQL documents we send, with the operation names and selections of Stigg's SDK (stigg-behaviour §2.5,
/// §3.2, §8.1). The entitlement fragments select every field the V2 <c>EntitlementsState</c> carries.
/// </summary>
internal static class GraphQlDocuments
{
    private const string EntitlementFragments = """
        fragment FeatureEntitlementFragment on FeatureEntitlement {
          __typename
          isGranted
          accessDeniedReason
          usageLimit
          hasUnlimitedUsage
          hasSoftLimit
          currentUsage
          enumValues
          entitlementUpdatedAt
          usageUpdatedAt
          usagePeriodAnchor
          usagePeriodStart
          usagePeriodEnd
          resetPeriod
          resetPeriodConfiguration {
            __typename
            ... on YearlyResetPeriodConfig { yearlyAccordingTo }
            ... on MonthlyResetPeriodConfig { monthlyAccordingTo }
            ... on WeeklyResetPeriodConfig { weeklyAccordingTo }
          }
          feature {
            __typename
            refId
            displayName
            description
            featureType
            meterType
            featureUnits
            featureUnitsPlural
            unitTransformation { divide round }
          }
          creditRate { amount currencyId }
          validUntil
        }

        fragment CreditEntitlementFragment on CreditEntitlement {
          __typename
          isGranted
          accessDeniedReason
          usageLimit
          currentUsage
          hasSoftLimit
          usageUpdatedAt
          entitlementUpdatedAt
          usagePeriodEnd
          validUntil
          currency { currencyId displayName description unitSingular unitPlural }
        }
        """;

    public const string GetEntitlementsStateName = "GetEntitlementsState";

    public const string GetEntitlementsState = """
        query GetEntitlementsState($query: FetchEntitlementsQuery!) {
          entitlementsState(query: $query) {
            __typename
            accessDeniedReason
            entitlementsV2 {
              ... on FeatureEntitlement { ...FeatureEntitlementFragment }
              ... on CreditEntitlement { ...CreditEntitlementFragment }
            }
          }
        }

        """ + EntitlementFragments;

    public const string GetSdkConfigurationName = "GetSdkConfiguration";

    public const string GetSdkConfiguration = """
        query GetSdkConfiguration {
          sdkConfiguration {
            sentryDsn
            isWidgetWatermarkEnabled
          }
        }
        """;

    private const string ReportUsageFragment = """
        fragment ReportUsageFragment on UsageMeasurementWithCurrentUsage {
          id
          featureId
          customerId
          resourceId
          currentUsage
          usagePeriodStart
          usagePeriodEnd
          nextResetDate
          timestamp
          credit { currencyId currentUsage timestamp usagePeriodEnd }
        }
        """;

    public const string ReportUsageName = "ReportUsage";

    public const string ReportUsage = """
        mutation ReportUsage($input: ReportUsageInput!) {
          reportUsage(input: $input) { ...ReportUsageFragment }
        }

        """ + ReportUsageFragment;

    public const string ReportUsageBulkName = "ReportUsageBulk";

    public const string ReportUsageBulk = """
        mutation ReportUsageBulk($input: ReportUsageBulkInput!) {
          reportUsageBulk(input: $input) { ...ReportUsageFragment }
        }

        """ + ReportUsageFragment;

    public const string ReportEventName = "ReportEvent";

    public const string ReportEvent = """
        mutation ReportEvent($events: UsageEventsReportInput!) {
          reportEvent(events: $events)
        }
        """;

    public const string OnEntitlementsUpdatedV2Name = "OnEntitlementsUpdatedV2";

    public const string OnEntitlementsUpdatedV2 = """
        subscription OnEntitlementsUpdatedV2 {
          entitlementsUpdatedV2 {
            customerId
            resourceId
            accessDeniedReason
            entitlements {
              ... on FeatureEntitlement { ...FeatureEntitlementFragment }
              ... on CreditEntitlement { ...CreditEntitlementFragment }
            }
          }
        }

        """ + EntitlementFragments;

    public const string OnUsageUpdatedV2Name = "OnUsageUpdatedV2";

    public const string OnUsageUpdatedV2 = """
        subscription OnUsageUpdatedV2 {
          usageUpdatedV2 {
            customerId
            resourceId
            entitlementReference { id type }
            usage { currentUsage usageUpdatedAt usagePeriodStart usagePeriodEnd }
          }
        }
        """;

    public const string OnPackagePublishedName = "OnPackagePublished";

    public const string OnPackagePublished = """
        subscription OnPackagePublished {
          packagePublished {
            accountId
            environmentId
            packageType
            packageRefId
            packageVersion
            migrationType
          }
        }
        """;
}
