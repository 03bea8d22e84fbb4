using Google.Protobuf.WellKnownTypes;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Evaluation;

/// <summary>
/// Model to wire-message mapping. Each method allocates exactly the messages it returns (no LINQ, no closures, no
/// boxing): this is the hit path.
/// </summary>
internal static class ProtoMapping
{
    public static Timestamp Timestamp(long epochMs)
    {
        var seconds = epochMs / 1000;
        var millis = epochMs % 1000;
        if (millis < 0)
        {
            seconds--;
            millis += 1000;
        }

        return new Timestamp { Seconds = seconds, Nanos = (int)millis * 1_000_000 };
    }

    public static EntitlementFeature Feature(FeatureEntitlement entitlement)
    {
        var feature = new EntitlementFeature
        {
            Id = entitlement.FeatureId,
            FeatureType = entitlement.FeatureType,
            MeterType = entitlement.MeterType,
            IsMetered = entitlement.IsMetered,
        };
        if (entitlement.Units is { } units)
        {
            feature.Units = units;
        }

        if (entitlement.UnitsPlural is { } unitsPlural)
        {
            feature.UnitsPlural = unitsPlural;
        }

        return feature;
    }

    /// <summary>Only the id: for answers about a feature we hold no data on (missing or fallback).</summary>
    public static EntitlementFeature FeatureRef(string featureId) => new() { Id = featureId };

    public static BooleanEntitlement Boolean(FeatureEntitlement entitlement) => new() { Feature = Feature(entitlement) };

    public static NumericEntitlement Numeric(FeatureEntitlement entitlement)
    {
        var numeric = new NumericEntitlement
        {
            Feature = Feature(entitlement),
            IsUnlimited = entitlement.HasUnlimitedUsage,
        };
        if (entitlement.UsageLimit is { } limit)
        {
            numeric.Value = ToInt32(limit);
        }

        return numeric;
    }

    public static MeteredEntitlement Metered(FeatureEntitlement entitlement, in EffectiveUsage usage)
    {
        var metered = new MeteredEntitlement
        {
            Feature = Feature(entitlement),
            IsUnlimited = entitlement.HasUnlimitedUsage,
            CurrentUsage = usage.CurrentUsage,
            HasSoftLimit = entitlement.HasSoftLimit,
        };
        if (entitlement.UsageLimit is { } limit)
        {
            metered.UsageLimit = limit;
        }

        if (entitlement.ResetPeriod is { } period)
        {
            metered.ResetPeriod = period;
        }

        if (entitlement.UsagePeriodAnchor is { } anchor)
        {
            metered.UsagePeriodAnchor = Timestamp(anchor);
        }

        if (usage.UsagePeriodStart is { } start)
        {
            metered.UsagePeriodStart = Timestamp(start);
        }

        if (usage.UsagePeriodEnd is { } end)
        {
            metered.UsagePeriodEnd = Timestamp(end);

            // The deprecated field still carries the next reset for older clients (Stigg: nextResetDate = end).
#pragma warning disable CS0612, CS0618
            metered.NextResetDate = Timestamp(end);
#pragma warning restore CS0612, CS0618
        }

        return metered;
    }

    public static EnumEntitlement Enum(FeatureEntitlement entitlement)
    {
        var result = new EnumEntitlement { Feature = Feature(entitlement) };
        AddAll(result.EnumValues, entitlement.EnumValues);
        return result;
    }

    public static CreditEntitlement Credit(CreditGrant credit)
    {
        var currency = new EntitlementCurrency
        {
            CurrencyId = credit.CurrencyId,
            DisplayName = credit.DisplayName ?? string.Empty,
        };
        if (credit.Description is { } description)
        {
            currency.Description = description;
        }

        if (credit.UnitSingular is { } singular)
        {
            currency.UnitSingular = singular;
        }

        if (credit.UnitPlural is { } plural)
        {
            currency.UnitPlural = plural;
        }

        var result = new CreditEntitlement
        {
            Currency = currency,
            UsageLimit = credit.UsageLimit,
            CurrentUsage = credit.CurrentUsage,
            Remaining = credit.Remaining,
            HasSoftLimit = credit.HasSoftLimit,
        };
        if (credit.UsagePeriodEnd is { } end)
        {
            result.UsagePeriodEnd = Timestamp(end);
        }

        return result;
    }

    /// <summary>A credit we hold no data on: the id, the given limit (fallback) and no usage.</summary>
    public static CreditEntitlement CreditRef(string currencyId, double usageLimit) => new()
    {
        Currency = new EntitlementCurrency { CurrencyId = currencyId, DisplayName = string.Empty },
        UsageLimit = usageLimit,
        Remaining = usageLimit,
    };

    public static BooleanEntitlement BooleanFallback(string featureId) => new() { Feature = FeatureRef(featureId) };

    public static NumericEntitlement NumericFallback(string featureId, in FallbackValues fallback)
    {
        var numeric = new NumericEntitlement
        {
            Feature = FeatureRef(featureId),
            IsUnlimited = fallback.IsUnlimited ?? false,
        };
        if (fallback.Value is { } value)
        {
            numeric.Value = value;
        }

        return numeric;
    }

    public static MeteredEntitlement MeteredFallback(string featureId, in FallbackValues fallback)
    {
        var metered = new MeteredEntitlement
        {
            Feature = FeatureRef(featureId),
            IsUnlimited = fallback.IsUnlimited ?? false,
            CurrentUsage = fallback.CurrentUsage ?? 0,
            HasSoftLimit = false,
        };
        if (fallback.UsageLimit is { } limit)
        {
            metered.UsageLimit = limit;
        }

        return metered;
    }

    public static EnumEntitlement EnumFallback(string featureId, in FallbackValues fallback)
    {
        var result = new EnumEntitlement { Feature = FeatureRef(featureId) };
        if (fallback.EnumValues is { } values)
        {
            AddAll(result.EnumValues, values);
        }

        return result;
    }

    /// <summary>Copies by index: enumerating an interface would allocate an enumerator.</summary>
    public static void AddAll(Google.Protobuf.Collections.RepeatedField<string> target, IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            target.Add(values[i]);
        }
    }

    /// <summary>Numeric limits are whole numbers on the wire; saturate rather than wrap on absurd values.</summary>
    private static int ToInt32(double value) =>
        double.IsNaN(value) ? 0
        : value >= int.MaxValue ? int.MaxValue
        : value <= int.MinValue ? int.MinValue
        : (int)value;
}
