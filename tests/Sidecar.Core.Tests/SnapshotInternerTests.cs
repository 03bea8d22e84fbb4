using System.Reflection;
using Sidecar.Core.Json;
using Sidecar.Core.Model;
using Stigg.Sidecar.V1;

namespace Sidecar.Core.Tests;

/// <summary>Sharing values between the customers of one load must never make one customer answer another's values.</summary>
public sealed class SnapshotInternerTests
{
    [Fact]
    public void ToSnapshot_TwoCustomersOnOnePlan_ShareIdsAndEqualEntitlementsButKeepTheirOwnUsage()
    {
        var interner = new SnapshotInterner();
        var a = EntitlementsStateMapper.ToSnapshot(new CustomerKey("a", null), State(usage: 1), 0, interner);
        var b = EntitlementsStateMapper.ToSnapshot(new CustomerKey("b", null), State(usage: 2), 0, interner);

        Assert.True(a.TryGetFeature("feature-sso", out var ssoA));
        Assert.True(b.TryGetFeature("feature-sso", out var ssoB));
        Assert.True(a.TryGetFeature("feature-calls", out var callsA));
        Assert.True(b.TryGetFeature("feature-calls", out var callsB));
        Assert.Same(ssoA, ssoB);
        Assert.Same(callsA.FeatureId, callsB.FeatureId);
        Assert.Same(callsA.Units, callsB.Units);
        Assert.NotSame(callsA, callsB);
        Assert.Equal(1, callsA.CurrentUsage);
        Assert.Equal(2, callsB.CurrentUsage);
        Assert.Same(a.Credits[0], b.Credits[0]);
    }

    [Fact]
    public void ToSnapshot_TwoCustomersOnOnePlanWithEqualUsage_ShareTheListsAndAUsageChangeStaysWithItsCustomer()
    {
        var interner = new SnapshotInterner();
        var a = EntitlementsStateMapper.ToSnapshot(new CustomerKey("a", null), State(usage: 1), 0, interner);
        var b = EntitlementsStateMapper.ToSnapshot(new CustomerKey("b", null), State(usage: 1), 0, interner);
        var c = EntitlementsStateMapper.ToSnapshot(new CustomerKey("c", null), State(usage: 2), 0, interner);

        Assert.Same(a.Features, b.Features);
        Assert.Same(a.Credits, b.Credits);
        Assert.NotSame(a.Features, c.Features);

        var updated = a.WithUsage(new UsageUpdate(EntitlementRefType.Feature, "feature-calls", 7, null, null, 1))!;

        Assert.True(updated.TryGetFeature("feature-calls", out var calls));
        Assert.Equal(7, calls.CurrentUsage);
        Assert.True(b.TryGetFeature("feature-calls", out calls));
        Assert.Equal(1, calls.CurrentUsage);
        Assert.True(a.TryGetFeature("feature-calls", out calls));
        Assert.Equal(1, calls.CurrentUsage);
    }

    /// <summary>Every property, changed alone, keeps two entitlements apart (new properties are covered as they come).</summary>
    [Fact]
    public void Intern_EntitlementsDifferingInAnyOneProperty_NotShared()
    {
        var feature = Feature();
        foreach (var property in Properties<FeatureEntitlement>())
        {
            var interner = new SnapshotInterner();
            var changed = With(feature, property);

            Assert.Same(feature, interner.Intern(feature));
            Assert.Same(changed, interner.Intern(changed));
        }

        var credit = Credit();
        foreach (var property in Properties<CreditGrant>())
        {
            var interner = new SnapshotInterner();
            var changed = With(credit, property);

            Assert.Same(credit, interner.Intern(credit));
            Assert.Same(changed, interner.Intern(changed));
        }
    }

    [Fact]
    public void Intern_NegativeZeroUsage_NotMergedWithZero()
    {
        var interner = new SnapshotInterner();
        var zero = Feature() with { CurrentUsage = 0.0 };
        var negativeZero = Feature() with { CurrentUsage = -0.0 };

        interner.Intern(zero);

        Assert.Same(negativeZero, interner.Intern(negativeZero));
        Assert.True(double.IsNegative(interner.Intern(negativeZero).CurrentUsage));
    }

    [Fact]
    public void Intern_EqualEnumValueLists_OneList()
    {
        var interner = new SnapshotInterner();

        var first = interner.Intern(["eu", "us"]);
        var second = interner.Intern(["eu", "us"]);
        var other = interner.Intern(["us", "eu"]);

        Assert.Same(first, second);
        Assert.NotSame(first, other);
        Assert.Equal(["us", "eu"], other);
    }

    private static EntitlementsStateDto State(double usage) => new()
    {
        EntitlementsV2 =
        [
            new EntitlementDto { TypeName = EntitlementDto.FeatureTypeName, Feature = new FeatureDto { RefId = new string("feature-sso".ToCharArray()), FeatureType = "BOOLEAN" } },
            new EntitlementDto
            {
                TypeName = EntitlementDto.FeatureTypeName,
                UsageLimit = 100,
                CurrentUsage = usage,
                Feature = new FeatureDto { RefId = new string("feature-calls".ToCharArray()), FeatureType = "NUMBER", MeterType = "Incremental", FeatureUnits = new string("call".ToCharArray()) },
            },
            new EntitlementDto { TypeName = EntitlementDto.CreditTypeName, UsageLimit = 10, Currency = new CurrencyDto { CurrencyId = new string("credits".ToCharArray()) } },
        ],
    };

    private static FeatureEntitlement Feature() => new()
    {
        FeatureId = "f",
        FeatureType = FeatureType.Number,
        MeterType = MeterType.Incremental,
        DisplayName = "F",
        Units = "u",
        UnitsPlural = "us",
        UsageLimit = 10,
        CurrentUsage = 1,
        EnumValues = ["a"],
        DeniedReason = AccessDeniedReason.Revoked,
        EntitlementUpdatedAt = 1,
        UsageUpdatedAt = 2,
        UsagePeriodAnchor = 3,
        UsagePeriodStart = 4,
        UsagePeriodEnd = 5,
        ResetPeriod = EntitlementResetPeriod.Month,
        ValidUntil = 6,
        CreditCurrencyId = "c",
        CreditRateAmount = 0.5,
    };

    private static CreditGrant Credit() => new()
    {
        CurrencyId = "c",
        DisplayName = "C",
        Description = "d",
        UnitSingular = "s",
        UnitPlural = "p",
        UsageLimit = 10,
        CurrentUsage = 1,
        DeniedReason = AccessDeniedReason.Revoked,
        EntitlementUpdatedAt = 1,
        UsageUpdatedAt = 2,
        UsagePeriodEnd = 3,
        ValidUntil = 4,
    };

    private static IEnumerable<PropertyInfo> Properties<T>() =>
        typeof(T).GetProperties().Where(p => p.CanWrite && p.Name != "EqualityContract");

    /// <summary>A copy of <paramref name="item"/> with one property set to another value.</summary>
    private static T With<T>(T item, PropertyInfo property)
        where T : class
    {
        var clone = (T)typeof(T).GetMethod("<Clone>$")!.Invoke(item, null)!;
        var current = property.GetValue(item);
        object? other = current switch
        {
            string s => s + "-changed",
            bool b => !b,
            double d => d + 1,
            long l => l + 1,
            FeatureType => FeatureType.Boolean,
            MeterType => MeterType.Fluctuating,
            AccessDeniedReason => AccessDeniedReason.BudgetExceeded,
            EntitlementResetPeriod => EntitlementResetPeriod.Day,
            IReadOnlyList<string> => new[] { "b" },
            _ => throw new InvalidOperationException($"no other value for {property.Name} (extend the test with its type)"),
        };
        property.SetValue(clone, other);
        return clone;
    }
}
