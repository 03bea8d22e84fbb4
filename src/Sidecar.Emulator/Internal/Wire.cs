using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sidecar.Core.Json;
using Sidecar.Core.Model;

namespace Sidecar.Emulator.Internal;

/// <summary>
/// Writes Stigg's wire JSON. Written by hand rather than by serializing the DTOs because a GraphQL answer carries
/// exactly the selected fields of each union member: a <c>FeatureEntitlement</c> has no <c>currency</c>, a
/// <c>CreditEntitlement</c> no <c>feature</c> (stigg-behaviour §2.2, §3.2).
/// </summary>
internal static class Wire
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Ids and names go out readable ('+', '<', non-ASCII); the output is JSON, never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    public static byte[] Build<TState>(TState state, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer, state);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>{"data":{"entitlementsState":{...}}}</c>: the Edge body and the GraphQL answer.</summary>
    public static byte[] EntitlementsEnvelope(string? reason, IReadOnlyList<EntitlementDto> entitlements) =>
        Build((reason, entitlements), static (w, s) =>
        {
            w.WriteStartObject();
            w.WritePropertyName("data");
            w.WriteStartObject();
            w.WritePropertyName("entitlementsState");
            WriteState(w, s.reason, s.entitlements, legacyList: true);
            w.WriteEndObject();
            w.WriteEndObject();
        });

    /// <summary>An <c>EntitlementsState</c> object; the legacy <c>entitlements</c> list is always empty here.</summary>
    public static void WriteState(Utf8JsonWriter w, string? reason, IReadOnlyList<EntitlementDto> entitlements, bool legacyList)
    {
        w.WriteStartObject();
        w.WriteString("__typename", "EntitlementsState");
        w.WriteString("accessDeniedReason", reason);
        if (legacyList)
        {
            w.WritePropertyName("entitlements");
            w.WriteStartArray();
            w.WriteEndArray();
        }

        w.WritePropertyName("entitlementsV2");
        WriteEntitlements(w, entitlements);
        w.WriteEndObject();
    }

    public static void WriteEntitlements(Utf8JsonWriter w, IReadOnlyList<EntitlementDto> entitlements)
    {
        w.WriteStartArray();
        foreach (var e in entitlements)
        {
            if (e.IsCredit)
            {
                WriteCredit(w, e);
            }
            else
            {
                WriteFeature(w, e);
            }
        }

        w.WriteEndArray();
    }

    private static void WriteFeature(Utf8JsonWriter w, EntitlementDto e)
    {
        w.WriteStartObject();
        w.WriteString("__typename", EntitlementDto.FeatureTypeName);
        w.WriteBoolean("isGranted", e.IsGranted ?? e.AccessDeniedReason is null);
        w.WriteString("accessDeniedReason", e.AccessDeniedReason);
        WriteNumber(w, "usageLimit", e.UsageLimit);
        w.WriteBoolean("hasUnlimitedUsage", e.HasUnlimitedUsage ?? false);
        w.WriteBoolean("hasSoftLimit", e.HasSoftLimit ?? false);
        WriteNumber(w, "currentUsage", e.CurrentUsage);
        if (e.EnumValues is { } values)
        {
            w.WritePropertyName("enumValues");
            w.WriteStartArray();
            foreach (var v in values)
            {
                w.WriteStringValue(v);
            }

            w.WriteEndArray();
        }
        else
        {
            w.WriteNull("enumValues");
        }

        WriteInstant(w, "entitlementUpdatedAt", e.EntitlementUpdatedAt);
        WriteInstant(w, "usageUpdatedAt", e.UsageUpdatedAt);
        WriteInstant(w, "usagePeriodAnchor", e.UsagePeriodAnchor);
        WriteInstant(w, "usagePeriodStart", e.UsagePeriodStart);
        WriteInstant(w, "usagePeriodEnd", e.UsagePeriodEnd);
        w.WriteString("resetPeriod", e.ResetPeriod);
        WriteElement(w, "resetPeriodConfiguration", e.ResetPeriodConfiguration);

        w.WritePropertyName("feature");
        if (e.Feature is { } f)
        {
            w.WriteStartObject();
            w.WriteString("__typename", f.TypeName ?? "EntitlementFeature");
            w.WriteString("refId", f.RefId);
            w.WriteString("displayName", f.DisplayName ?? f.RefId);
            w.WriteString("description", f.Description);
            w.WriteString("featureType", f.FeatureType);
            w.WriteString("meterType", f.MeterType);
            w.WriteString("featureUnits", f.FeatureUnits);
            w.WriteString("featureUnitsPlural", f.FeatureUnitsPlural);
            WriteElement(w, "unitTransformation", f.UnitTransformation);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNullValue();
        }

        w.WritePropertyName("creditRate");
        if (e.CreditRate is { } rate)
        {
            w.WriteStartObject();
            w.WriteNumber("amount", rate.Amount);
            w.WriteString("currencyId", rate.CurrencyId);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNullValue();
        }

        WriteInstant(w, "validUntil", e.ValidUntil);
        w.WriteEndObject();
    }

    private static void WriteCredit(Utf8JsonWriter w, EntitlementDto e)
    {
        w.WriteStartObject();
        w.WriteString("__typename", EntitlementDto.CreditTypeName);
        w.WriteBoolean("isGranted", e.IsGranted ?? e.AccessDeniedReason is null);
        w.WriteString("accessDeniedReason", e.AccessDeniedReason);
        w.WritePropertyName("currency");
        if (e.Currency is { } c)
        {
            w.WriteStartObject();
            w.WriteString("currencyId", c.CurrencyId);
            w.WriteString("displayName", c.DisplayName);
            w.WriteString("description", c.Description);
            w.WriteString("unitSingular", c.UnitSingular);
            w.WriteString("unitPlural", c.UnitPlural);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNullValue();
        }

        WriteNumber(w, "usageLimit", e.UsageLimit);
        WriteNumber(w, "currentUsage", e.CurrentUsage);
        w.WriteBoolean("hasSoftLimit", e.HasSoftLimit ?? false);
        WriteInstant(w, "usageUpdatedAt", e.UsageUpdatedAt);
        WriteInstant(w, "entitlementUpdatedAt", e.EntitlementUpdatedAt);
        WriteInstant(w, "usagePeriodEnd", e.UsagePeriodEnd);
        WriteInstant(w, "validUntil", e.ValidUntil);
        w.WriteEndObject();
    }

    /// <summary>The <c>entitlementsUpdatedV2</c> payload (§3.2).</summary>
    public static byte[] EntitlementsUpdatedData(string customerId, string? resourceId, string? reason, IReadOnlyList<EntitlementDto> entitlements) =>
        Build((customerId, resourceId, reason, entitlements), static (w, s) =>
        {
            w.WriteStartObject();
            w.WritePropertyName("entitlementsUpdatedV2");
            w.WriteStartObject();
            w.WriteString("__typename", "EntitlementsUpdatedV2");
            w.WriteString("customerId", s.customerId);
            w.WriteString("resourceId", s.resourceId);
            w.WriteString("accessDeniedReason", s.reason);
            w.WritePropertyName("entitlements");
            WriteEntitlements(w, s.entitlements);
            w.WriteEndObject();
            w.WriteEndObject();
        });

    /// <summary>The <c>usageUpdatedV2</c> payload (§3.2).</summary>
    public static byte[] UsageUpdatedData(UsageChange change) =>
        Build(change, static (w, c) =>
        {
            w.WriteStartObject();
            w.WritePropertyName("usageUpdatedV2");
            WriteUsageChange(w, c);
            w.WriteEndObject();
        });

    public static byte[] UsageChangeJson(UsageChange change) => Build(change, static (w, c) => WriteUsageChange(w, c));

    private static void WriteUsageChange(Utf8JsonWriter w, UsageChange c)
    {
        w.WriteStartObject();
        w.WriteString("__typename", "UsageUpdatedV2");
        w.WriteString("customerId", c.CustomerId);
        w.WriteString("resourceId", c.ResourceId);
        w.WritePropertyName("entitlementReference");
        w.WriteStartObject();
        w.WriteString("id", c.Id);
        w.WriteString("type", c.Type == EntitlementRefType.Credit ? "CREDIT" : "FEATURE");
        w.WriteEndObject();
        w.WritePropertyName("usage");
        w.WriteStartObject();
        w.WriteNumber("currentUsage", c.CurrentUsage);
        WriteInstant(w, "usageUpdatedAt", c.UsageUpdatedAt);
        WriteInstant(w, "usagePeriodStart", c.UsagePeriodStart);
        WriteInstant(w, "usagePeriodEnd", c.UsagePeriodEnd);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The <c>packagePublished</c> payload (§3.2).</summary>
    public static byte[] PackagePublishedData(PackagePublished p) =>
        Build(p, static (w, p) =>
        {
            w.WriteStartObject();
            w.WritePropertyName("packagePublished");
            w.WriteStartObject();
            w.WriteString("__typename", "PackagePublishedPayload");
            w.WriteString("accountId", p.AccountId);
            w.WriteString("environmentId", p.EnvironmentId);
            w.WriteString("packageType", p.PackageType);
            w.WriteString("packageRefId", p.PackageRefId);
            w.WriteNumber("packageVersion", p.PackageVersion);
            w.WriteString("migrationType", p.MigrationType);
            w.WriteEndObject();
            w.WriteEndObject();
        });

    /// <summary><c>{"data":{"field":RAW}}</c> around an already-serialized value.</summary>
    public static byte[] DataEnvelope(string field, ReadOnlyMemory<byte> rawValue) =>
        Build((field, rawValue), static (w, s) =>
        {
            w.WriteStartObject();
            w.WritePropertyName("data");
            w.WriteStartObject();
            w.WritePropertyName(s.field);
            w.WriteRawValue(s.rawValue.Span, skipInputValidation: true);
            w.WriteEndObject();
            w.WriteEndObject();
        });

    /// <summary><c>{"data":{"field":[RAW,...]}}</c>.</summary>
    public static byte[] DataArrayEnvelope(string field, IReadOnlyList<byte[]> rawValues) =>
        Build((field, rawValues), static (w, s) =>
        {
            w.WriteStartObject();
            w.WritePropertyName("data");
            w.WriteStartObject();
            w.WritePropertyName(s.field);
            w.WriteStartArray();
            foreach (var raw in s.rawValues)
            {
                w.WriteRawValue(raw, skipInputValidation: true);
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        });

    /// <summary>A GraphQL error response: <c>{"data":null,"errors":[{"message","path"?,"extensions":{"code"}}]}</c>.</summary>
    public static byte[] GraphQlError(string message, string code, string? path) =>
        Build((message, code, path), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteNull("data");
            w.WritePropertyName("errors");
            w.WriteStartArray();
            WriteErrorObject(w, s.message, s.code, s.path);
            w.WriteEndArray();
            w.WriteEndObject();
        });

    public static void WriteErrorObject(Utf8JsonWriter w, string message, string code, string? path)
    {
        w.WriteStartObject();
        w.WriteString("message", message);
        if (path is not null)
        {
            w.WritePropertyName("path");
            w.WriteStartArray();
            w.WriteStringValue(path);
            w.WriteEndArray();
        }

        w.WritePropertyName("extensions");
        w.WriteStartObject();
        w.WriteString("code", code);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The SDK configuration (the SDK only uses the call to validate its API key, §9.3).</summary>
    public static readonly byte[] SdkConfiguration = Build(0, static (w, _) =>
    {
        w.WriteStartObject();
        w.WritePropertyName("data");
        w.WriteStartObject();
        w.WritePropertyName("sdkConfiguration");
        w.WriteStartObject();
        w.WriteString("__typename", "SdkConfiguration");
        w.WriteNull("sentryDsn");
        w.WriteBoolean("isWidgetWatermarkEnabled", false);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    });

    public static void WriteNumber(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    public static void WriteInstant(Utf8JsonWriter w, string name, long? epochMs)
    {
        if (epochMs is { } ms)
        {
            w.WriteString(name, Instants.ToIso(ms));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteElement(Utf8JsonWriter w, string name, JsonElement? element)
    {
        if (element is { ValueKind: not JsonValueKind.Undefined } e)
        {
            w.WritePropertyName(name);
            e.WriteTo(w);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
