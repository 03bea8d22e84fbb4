using Sidecar.Core.Model;

namespace Sidecar.Core.Json;

/// <summary>Turns Stigg's <c>entitlementsState</c> JSON into a <see cref="CustomerSnapshot"/> and back.</summary>
public static class EntitlementsStateMapper
{
    /// <param name="key">The entry the state belongs to.</param>
    /// <param name="state">The Edge/GraphQL/WS payload.</param>
    /// <param name="fetchedAt">When the upstream confirmed it (epoch ms).</param>
    /// <param name="interner">Shares repeated strings and equal entitlements with the other snapshots of one load; null maps without sharing.</param>
    public static CustomerSnapshot ToSnapshot(CustomerKey key, EntitlementsStateDto state, long fetchedAt, SnapshotInterner? interner = null)
    {
        // Exact-size arrays: a snapshot holds its lists for as long as it lives (a million of them in a large file).
        var featureCount = 0;
        var creditCount = 0;
        foreach (var dto in state.EntitlementsV2)
        {
            if (dto.IsCredit)
            {
                creditCount += dto.Currency?.CurrencyId is { Length: > 0 } ? 1 : 0;
            }
            else
            {
                featureCount += dto.Feature?.RefId is { Length: > 0 } ? 1 : 0;
            }
        }

        var features = featureCount == 0 ? [] : new FeatureEntitlement[featureCount];
        var credits = creditCount == 0 ? [] : new CreditGrant[creditCount];
        featureCount = creditCount = 0;
        foreach (var dto in state.EntitlementsV2)
        {
            if (dto.IsCredit)
            {
                if (dto.Currency?.CurrencyId is { Length: > 0 } currencyId)
                {
                    var credit = ToCredit(interner?.Intern(currencyId) ?? currencyId, dto, interner);
                    credits[creditCount++] = interner?.Intern(credit) ?? credit;
                }
            }
            else if (dto.Feature?.RefId is { Length: > 0 } featureId)
            {
                var feature = ToFeature(interner?.Intern(featureId) ?? featureId, dto, interner);
                features[featureCount++] = interner?.Intern(feature) ?? feature;
            }
        }

        return new CustomerSnapshot(
            key,
            StiggEnums.ParseReason(state.AccessDeniedReason),
            interner?.Intern(features) ?? features,
            interner?.Intern(credits) ?? credits,
            EntitlementsTimestamp(state, fetchedAt),
            fetchedAt);
    }

    /// <summary>
    /// The version of an entitlements list (stigg-behaviour §3.3): the first valid <c>entitlementUpdatedAt</c>;
    /// epoch 0 for an empty list (always accepted); <paramref name="now"/> when no date is valid.
    /// </summary>
    public static long EntitlementsTimestamp(EntitlementsStateDto state, long now)
    {
        if (state.EntitlementsV2.Count == 0)
        {
            return 0;
        }

        foreach (var e in state.EntitlementsV2)
        {
            if (e.EntitlementUpdatedAt is { } ts)
            {
                return ts;
            }
        }

        return now;
    }

    public static EntitlementsStateDto ToState(CustomerSnapshot snapshot)
    {
        var list = new List<EntitlementDto>(snapshot.Features.Count + snapshot.Credits.Count);
        foreach (var f in snapshot.Features)
        {
            list.Add(new EntitlementDto
            {
                TypeName = EntitlementDto.FeatureTypeName,
                IsGranted = f.DeniedReason is null,
                AccessDeniedReason = StiggEnums.FormatReason(f.DeniedReason),
                UsageLimit = f.UsageLimit,
                HasUnlimitedUsage = f.HasUnlimitedUsage,
                HasSoftLimit = f.HasSoftLimit,
                CurrentUsage = f.CurrentUsage,
                EnumValues = f.EnumValues.Count == 0 ? null : [.. f.EnumValues],
                EntitlementUpdatedAt = f.EntitlementUpdatedAt == 0 ? null : f.EntitlementUpdatedAt,
                UsageUpdatedAt = f.UsageUpdatedAt == 0 ? null : f.UsageUpdatedAt,
                UsagePeriodAnchor = f.UsagePeriodAnchor,
                UsagePeriodStart = f.UsagePeriodStart,
                UsagePeriodEnd = f.UsagePeriodEnd,
                ResetPeriod = StiggEnums.FormatResetPeriod(f.ResetPeriod),
                ValidUntil = f.ValidUntil,
                CreditRate = f.CreditCurrencyId is null ? null : new CreditRateDto { CurrencyId = f.CreditCurrencyId, Amount = f.CreditRateAmount ?? 0 },
                Feature = new FeatureDto
                {
                    RefId = f.FeatureId,
                    DisplayName = f.DisplayName,
                    FeatureType = StiggEnums.FormatFeatureType(f.FeatureType),
                    MeterType = StiggEnums.FormatMeterType(f.MeterType),
                    FeatureUnits = f.Units,
                    FeatureUnitsPlural = f.UnitsPlural,
                },
            });
        }

        foreach (var c in snapshot.Credits)
        {
            list.Add(new EntitlementDto
            {
                TypeName = EntitlementDto.CreditTypeName,
                IsGranted = c.DeniedReason is null,
                AccessDeniedReason = StiggEnums.FormatReason(c.DeniedReason),
                UsageLimit = c.UsageLimit,
                CurrentUsage = c.CurrentUsage,
                HasSoftLimit = c.HasSoftLimit,
                EntitlementUpdatedAt = c.EntitlementUpdatedAt == 0 ? null : c.EntitlementUpdatedAt,
                UsageUpdatedAt = c.UsageUpdatedAt == 0 ? null : c.UsageUpdatedAt,
                UsagePeriodEnd = c.UsagePeriodEnd,
                ValidUntil = c.ValidUntil,
                Currency = new CurrencyDto
                {
                    CurrencyId = c.CurrencyId,
                    DisplayName = c.DisplayName,
                    Description = c.Description,
                    UnitSingular = c.UnitSingular,
                    UnitPlural = c.UnitPlural,
                },
            });
        }

        return new EntitlementsStateDto
        {
            AccessDeniedReason = StiggEnums.FormatReason(snapshot.CustomerReason),
            EntitlementsV2 = list,
        };
    }

    private static FeatureEntitlement ToFeature(string featureId, EntitlementDto dto, SnapshotInterner? interner)
    {
        var feature = dto.Feature!;
        return new FeatureEntitlement
        {
            FeatureId = featureId,
            FeatureType = StiggEnums.ParseFeatureType(feature.FeatureType),
            MeterType = StiggEnums.ParseMeterType(feature.MeterType),
            DisplayName = Share(interner, feature.DisplayName),
            Units = Share(interner, feature.FeatureUnits),
            UnitsPlural = Share(interner, feature.FeatureUnitsPlural),
            UsageLimit = dto.UsageLimit,
            HasUnlimitedUsage = dto.HasUnlimitedUsage ?? false,
            HasSoftLimit = dto.HasSoftLimit ?? false,
            CurrentUsage = dto.CurrentUsage ?? 0,
            EnumValues = dto.EnumValues is { Count: > 0 } values ? interner?.Intern(values) ?? values.ToArray() : [],
            DeniedReason = StiggEnums.ParseReason(dto.AccessDeniedReason),
            EntitlementUpdatedAt = dto.EntitlementUpdatedAt ?? 0,
            UsageUpdatedAt = dto.UsageUpdatedAt ?? 0,
            UsagePeriodAnchor = dto.UsagePeriodAnchor,
            UsagePeriodStart = dto.UsagePeriodStart,
            UsagePeriodEnd = dto.UsagePeriodEnd,
            ResetPeriod = StiggEnums.ParseResetPeriod(dto.ResetPeriod),
            ValidUntil = dto.ValidUntil,
            CreditCurrencyId = Share(interner, dto.CreditRate?.CurrencyId),
            CreditRateAmount = dto.CreditRate?.Amount,
        };
    }

    private static CreditGrant ToCredit(string currencyId, EntitlementDto dto, SnapshotInterner? interner) => new()
    {
        CurrencyId = currencyId,
        DisplayName = Share(interner, dto.Currency?.DisplayName),
        Description = Share(interner, dto.Currency?.Description),
        UnitSingular = Share(interner, dto.Currency?.UnitSingular),
        UnitPlural = Share(interner, dto.Currency?.UnitPlural),
        UsageLimit = dto.UsageLimit ?? 0,
        CurrentUsage = dto.CurrentUsage ?? 0,
        HasSoftLimit = dto.HasSoftLimit ?? false,
        DeniedReason = StiggEnums.ParseReason(dto.AccessDeniedReason),
        EntitlementUpdatedAt = dto.EntitlementUpdatedAt ?? 0,
        UsageUpdatedAt = dto.UsageUpdatedAt ?? 0,
        UsagePeriodEnd = dto.UsagePeriodEnd,
        ValidUntil = dto.ValidUntil,
    };

    private static string? Share(SnapshotInterner? interner, string? value) => interner is null ? value : interner.Intern(value);
}
