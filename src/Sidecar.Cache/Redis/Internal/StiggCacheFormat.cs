using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using StackExchange.Redis;
using Stigg.Sidecar.V1;

namespace Sidecar.Cache.Redis.Internal;

/// <summary>One entitlement of a stored map after the 3.x migration rules, before usage keys are merged in.</summary>
internal sealed record CachedEntry(EntitlementRefType Type, string Id, CalculatedEntitlementJson Calculated, UsageDataJson Usage)
{
    /// <summary>Metered features and credits keep their usage in separate keys (stigg-behaviour §7.4 step 4).</summary>
    public bool IsUsageTracked => Type == EntitlementRefType.Credit || IsMeteredFeature(Calculated.Feature);

    private static bool IsMeteredFeature(CachedFeatureJson? feature) =>
        feature is not null
        && StiggEnums.ParseFeatureType(feature.FeatureType) == FeatureType.Number
        && StiggEnums.ParseMeterType(feature.MeterType) is MeterType.Incremental or MeterType.Fluctuating;
}

/// <summary>
/// The JSON values of Stigg's Redis layout (stigg-behaviour §7.2–7.3): written in the current format, read in the
/// current and the 3.x format.
/// </summary>
/// <remarks>
/// Open question §11.2 (the exact <c>EntitlementsMap.toJSON()</c>) is settled here as follows:
/// <list type="bullet">
/// <item>Map key of a feature: the bare feature id (what 3.x wrote and the migration keeps).</item>
/// <item>Map key of a credit: <c>credit_{currencyId}</c>, the same token as the credit usage key. A bare currency id
/// could collide with a feature id in the same map; the prefix cannot.</item>
/// <item><c>calculatedEntitlement.type</c>: <c>"FEATURE"</c> / <c>"CREDIT"</c>, the upper-case enum style of Stigg's
/// GraphQL schema. Reading is case-insensitive, and an entry without a usable type is classified by its shape
/// (<c>feature</c> vs <c>currency</c>), so whatever persistent-cache-service writes is understood.</item>
/// <item>A credit's id is read from <c>calculatedEntitlement.currency.currencyId</c>, else
/// <c>calculatedEntitlement.currencyId</c>, else the map key without its <c>credit_</c> prefix.</item>
/// </list>
/// Instants are written as epoch-ms numbers and read as numbers or ISO-8601 strings.
/// </remarks>
internal static class StiggCacheFormat
{
    public const string FeatureTypeValue = "FEATURE";
    public const string CreditTypeValue = "CREDIT";
    public const string CreditKeyPrefix = "credit_";

    // JSON.stringify leaves non-ASCII and HTML characters alone; so do we.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The <c>#timestamp</c> value: epoch ms as a decimal string.</summary>
    public static string FormatTimestamp(long epochMs) => epochMs.ToString(CultureInfo.InvariantCulture);

    /// <summary>A stored <c>#timestamp</c>; null when absent or not a valid instant (Stigg treats both as missing).</summary>
    public static long? ParseTimestamp(RedisValue value)
    {
        if (value.IsNullOrEmpty)
        {
            return null;
        }

        var text = (string?)value;
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms))
        {
            return ms;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
            && d is >= long.MinValue and <= long.MaxValue)
        {
            return (long)d;
        }

        return Instants.TryParse(text, out var parsed) ? parsed : null;
    }

    /// <summary>The message timestamp of a usage record: its own, or the fetch time when the upstream gave none.</summary>
    public static long UsageTimestamp(long usageUpdatedAt, long fetchedAt) => usageUpdatedAt > 0 ? usageUpdatedAt : fetchedAt;

    public static byte[] WriteEntitlements(CustomerSnapshot snapshot)
    {
        var buffer = new ArrayBufferWriter<byte>(128 + (384 * (snapshot.Features.Count + snapshot.Credits.Count)));
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            foreach (var f in snapshot.Features)
            {
                w.WritePropertyName(f.FeatureId);
                WriteFeature(w, f, UsageTimestamp(f.UsageUpdatedAt, snapshot.FetchedAt));
            }

            foreach (var c in snapshot.Credits)
            {
                w.WritePropertyName(CreditKeyPrefix + c.CurrencyId);
                WriteCredit(w, c, UsageTimestamp(c.UsageUpdatedAt, snapshot.FetchedAt));
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>{"accessDeniedReason": "…" | null}</c>.</summary>
    public static byte[] WriteMetadata(AccessDeniedReason? reason)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            WriteString(w, "accessDeniedReason", StiggEnums.FormatReason(reason));
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A usage key's value: <c>{"currentUsage":n,"usagePeriodStart":ms|null,"usagePeriodEnd":ms|null}</c>.</summary>
    public static byte[] WriteUsage(double currentUsage, long? usagePeriodStart, long? usagePeriodEnd)
    {
        var buffer = new ArrayBufferWriter<byte>(96);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteNumber("currentUsage", currentUsage);
            WriteNumber(w, "usagePeriodStart", usagePeriodStart);
            WriteNumber(w, "usagePeriodEnd", usagePeriodEnd);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses an entitlements map and applies the migration rules 1–6 of stigg-behaviour §7.3.</summary>
    /// <exception cref="JsonException">The value is not an entitlements map.</exception>
    public static List<CachedEntry> ParseEntitlements(ReadOnlySpan<byte> json, long now)
    {
        var map = JsonSerializer.Deserialize(json, RedisJsonContext.Default.DictionaryStringCachedEntitlementJson)
            ?? throw new JsonException("The entitlements value is null.");
        var entries = new List<CachedEntry>(map.Count);
        foreach (var (key, value) in map)
        {
            if (Migrate(key, value, now) is { } entry)
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    /// <exception cref="JsonException">The value is not a usage object.</exception>
    public static UsageDataJson ParseUsage(ReadOnlySpan<byte> json)
    {
        var usage = JsonSerializer.Deserialize(json, RedisJsonContext.Default.UsageDataJson)
            ?? throw new JsonException("The usage value is null.");
        usage.UsagePeriodEnd ??= usage.NextResetDate; // rule 6 applies to usage keys too
        return usage;
    }

    /// <exception cref="JsonException">The value is not a metadata object.</exception>
    public static AccessDeniedReason? ParseMetadata(ReadOnlySpan<byte> json) =>
        StiggEnums.ParseReason(JsonSerializer.Deserialize(json, RedisJsonContext.Default.CustomerMetadataJson)?.AccessDeniedReason);

    /// <param name="entry">A migrated feature entry.</param>
    /// <param name="usage">The usage key's value for a tracked entry, else null.</param>
    /// <param name="usageTimestamp">The usage key's <c>#timestamp</c> for a tracked entry.</param>
    /// <param name="entitlementsTimestamp">The map's <c>#timestamp</c>: the per-entitlement update time is not stored.</param>
    public static FeatureEntitlement ToFeature(CachedEntry entry, UsageDataJson? usage, long? usageTimestamp, long entitlementsTimestamp)
    {
        var calc = entry.Calculated;
        var feature = calc.Feature!;
        var (current, start, end, updatedAt) = MergeUsage(entry.Usage, usage, usageTimestamp);
        return new FeatureEntitlement
        {
            FeatureId = entry.Id,
            FeatureType = StiggEnums.ParseFeatureType(feature.FeatureType),
            MeterType = StiggEnums.ParseMeterType(feature.MeterType),
            DisplayName = feature.DisplayName,
            Units = feature.Units,
            UnitsPlural = feature.UnitsPlural,
            UsageLimit = calc.UsageLimit,
            HasUnlimitedUsage = calc.HasUnlimitedUsage ?? false,
            HasSoftLimit = calc.HasSoftLimit ?? false,
            CurrentUsage = current,
            EnumValues = calc.EnumValues is { Count: > 0 } values ? values.ToArray() : [],
            DeniedReason = StiggEnums.ParseReason(calc.AccessDeniedReason),
            EntitlementUpdatedAt = entitlementsTimestamp,
            UsageUpdatedAt = updatedAt,
            UsagePeriodAnchor = calc.UsagePeriodAnchor,
            UsagePeriodStart = start,
            UsagePeriodEnd = end,
            ResetPeriod = StiggEnums.ParseResetPeriod(calc.ResetPeriod),
            ValidUntil = calc.ValidUntil,
            CreditCurrencyId = calc.CreditRate?.CurrencyId,
            CreditRateAmount = calc.CreditRate?.CurrencyId is null ? null : calc.CreditRate.Amount,
        };
    }

    /// <inheritdoc cref="ToFeature"/>
    public static CreditGrant ToCredit(CachedEntry entry, UsageDataJson? usage, long? usageTimestamp, long entitlementsTimestamp)
    {
        var calc = entry.Calculated;
        var (current, _, end, updatedAt) = MergeUsage(entry.Usage, usage, usageTimestamp);
        return new CreditGrant
        {
            CurrencyId = entry.Id,
            DisplayName = calc.Currency?.DisplayName,
            Description = calc.Currency?.Description,
            UnitSingular = calc.Currency?.UnitSingular,
            UnitPlural = calc.Currency?.UnitPlural,
            UsageLimit = calc.UsageLimit ?? 0,
            CurrentUsage = current,
            HasSoftLimit = calc.HasSoftLimit ?? false,
            DeniedReason = StiggEnums.ParseReason(calc.AccessDeniedReason),
            EntitlementUpdatedAt = entitlementsTimestamp,
            UsageUpdatedAt = updatedAt,
            UsagePeriodEnd = end,
            ValidUntil = calc.ValidUntil,
        };
    }

    private static (double Current, long? Start, long? End, long UpdatedAt) MergeUsage(UsageDataJson inMap, UsageDataJson? usageKey, long? usageTimestamp)
    {
        if (usageKey is null)
        {
            return (inMap.CurrentUsage ?? 0, inMap.UsagePeriodStart, inMap.UsagePeriodEnd, inMap.UpdatedAt ?? 0);
        }

        // The usage key wins (Stigg replaces usageData with it); a null period there (a usage report that carried
        // none) keeps the period stored with the entitlements rather than losing it.
        return (
            usageKey.CurrentUsage ?? 0,
            usageKey.UsagePeriodStart ?? inMap.UsagePeriodStart,
            usageKey.UsagePeriodEnd ?? inMap.UsagePeriodEnd,
            usageTimestamp ?? inMap.UpdatedAt ?? 0);
    }

    private static CachedEntry? Migrate(string key, CachedEntitlementJson? value, long now)
    {
        if (value?.CalculatedEntitlement is not { } calc)
        {
            return null;
        }

        // Rule 1: 3.x kept usage under "featureUsage".
        var usage = value.UsageData ?? value.FeatureUsage ?? new UsageDataJson();

        // Rule 2 (a missing type means a 3.x feature entry; without a feature it is dropped), extended to classify
        // an unrecognised type string by the entry's shape.
        EntitlementRefType type;
        if (string.Equals(calc.Type, CreditTypeValue, StringComparison.OrdinalIgnoreCase))
        {
            type = EntitlementRefType.Credit;
        }
        else if (string.Equals(calc.Type, FeatureTypeValue, StringComparison.OrdinalIgnoreCase) || calc.Feature is not null)
        {
            type = EntitlementRefType.Feature;
        }
        else if (!string.IsNullOrEmpty(calc.Type) && (calc.Currency is not null || calc.CurrencyId is not null))
        {
            type = EntitlementRefType.Credit;
        }
        else
        {
            return null;
        }

        // Rule 3: 3.x kept the period configuration with the usage.
        calc.UsagePeriodAnchor ??= usage.UsagePeriodAnchor;
        calc.ResetPeriod ??= usage.ResetPeriod;
        if (calc.ResetPeriodConfiguration is not { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined })
        {
            calc.ResetPeriodConfiguration = usage.ResetPeriodConfiguration;
        }

        // Rule 4 and rule 6.
        usage.UpdatedAt ??= now;
        usage.UsagePeriodEnd ??= usage.NextResetDate;

        if (type == EntitlementRefType.Credit)
        {
            var currencyId = calc.Currency?.CurrencyId ?? calc.CurrencyId
                ?? (key.StartsWith(CreditKeyPrefix, StringComparison.Ordinal) ? key[CreditKeyPrefix.Length..] : key);
            return currencyId.Length == 0 ? null : new CachedEntry(type, currencyId, calc, usage);
        }

        // A feature entitlement without its feature cannot be evaluated (the evaluator denies it as absent anyway).
        if (calc.Feature is not { } feature)
        {
            return null;
        }

        var featureId = string.IsNullOrEmpty(feature.Id) ? key : feature.Id;
        feature.Id = featureId;
        feature.DisplayName ??= featureId; // rule 5
        return featureId.Length == 0 ? null : new CachedEntry(type, featureId, calc, usage);
    }

    private static void WriteFeature(Utf8JsonWriter w, FeatureEntitlement f, long usageTimestamp)
    {
        w.WriteStartObject();
        w.WriteStartObject("calculatedEntitlement");
        w.WriteString("type", FeatureTypeValue);
        w.WriteStartObject("feature");
        w.WriteString("id", f.FeatureId);
        w.WriteString("displayName", f.DisplayName ?? f.FeatureId);
        WriteString(w, "featureType", StiggEnums.FormatFeatureType(f.FeatureType));
        WriteString(w, "meterType", StiggEnums.FormatMeterType(f.MeterType));
        WriteString(w, "units", f.Units);
        WriteString(w, "unitsPlural", f.UnitsPlural);
        w.WriteNull("description");
        w.WriteNull("unitTransformation");
        w.WriteEndObject();
        WriteString(w, "accessDeniedReason", StiggEnums.FormatReason(f.DeniedReason));
        WriteNumber(w, "usageLimit", f.UsageLimit);
        w.WriteBoolean("hasUnlimitedUsage", f.HasUnlimitedUsage);
        w.WriteBoolean("hasSoftLimit", f.HasSoftLimit);
        w.WriteStartArray("enumValues");
        foreach (var v in f.EnumValues)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
        WriteNumber(w, "validUntil", f.ValidUntil);
        if (f.CreditCurrencyId is { } currencyId)
        {
            w.WriteStartObject("creditRate");
            w.WriteNumber("amount", f.CreditRateAmount ?? 0);
            w.WriteString("currencyId", currencyId);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("creditRate");
        }

        WriteNumber(w, "usagePeriodAnchor", f.UsagePeriodAnchor);
        WriteString(w, "resetPeriod", StiggEnums.FormatResetPeriod(f.ResetPeriod));
        w.WriteNull("resetPeriodConfiguration");
        w.WriteEndObject();

        w.WriteStartObject("usageData");
        w.WriteNumber("currentUsage", f.CurrentUsage);
        WriteNumber(w, "usagePeriodStart", f.UsagePeriodStart);
        WriteNumber(w, "usagePeriodEnd", f.UsagePeriodEnd);
        w.WriteNumber("updatedAt", usageTimestamp);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteCredit(Utf8JsonWriter w, CreditGrant c, long usageTimestamp)
    {
        w.WriteStartObject();
        w.WriteStartObject("calculatedEntitlement");
        w.WriteString("type", CreditTypeValue);
        w.WriteStartObject("currency");
        w.WriteString("currencyId", c.CurrencyId);
        WriteString(w, "displayName", c.DisplayName);
        WriteString(w, "description", c.Description);
        WriteString(w, "unitSingular", c.UnitSingular);
        WriteString(w, "unitPlural", c.UnitPlural);
        w.WriteEndObject();
        WriteString(w, "accessDeniedReason", StiggEnums.FormatReason(c.DeniedReason));
        w.WriteNumber("usageLimit", c.UsageLimit);
        w.WriteBoolean("hasUnlimitedUsage", false);
        w.WriteBoolean("hasSoftLimit", c.HasSoftLimit);
        WriteNumber(w, "validUntil", c.ValidUntil);
        w.WriteEndObject();

        w.WriteStartObject("usageData");
        w.WriteNumber("currentUsage", c.CurrentUsage);
        w.WriteNull("usagePeriodStart");
        WriteNumber(w, "usagePeriodEnd", c.UsagePeriodEnd);
        w.WriteNumber("updatedAt", usageTimestamp);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteString(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteNumber(Utf8JsonWriter w, string name, double? value)
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

    private static void WriteNumber(Utf8JsonWriter w, string name, long? value)
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
}
