using Sidecar.Core.Evaluation;
using Stigg.Sidecar.V1;
using Sidecar.Testing;
using static Sidecar.Testing.Snapshots;

namespace Sidecar.Core.Tests;

/// <summary>No data (null snapshot): the fallback answer and its precedence (§5.1, §5.2, §5.3).</summary>
public class FallbackPrecedenceTests
{
    private static readonly FallbackSet Global = FallbackSet.Parse("""
        {
          "f-bool": { "hasAccess": true },
          "f-num": { "hasAccess": true, "value": 10, "isUnlimited": true },
          "f-meter": { "hasAccess": true, "usageLimit": 500, "isUnlimited": false, "currentUsage": 12 },
          "f-enum": { "hasAccess": true, "enumValues": ["us", "eu"] },
          "f-denied": { "hasAccess": false }
        }
        """);

    // ---- Boolean

    [Fact]
    public void Boolean_NoFallbackAnywhere_DefaultDenyUnknown()
    {
        var response = EntitlementEvaluator.Boolean(null, new GetBooleanEntitlementRequest { FeatureId = "f-bool" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccess);
        Assert.True(response.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.Equal("f-bool", response.Entitlement.Feature.Id);
    }

    [Fact]
    public void Boolean_GlobalOnly_UsesGlobalAndKeepsUnknownReason()
    {
        var response = EntitlementEvaluator.Boolean(null, new GetBooleanEntitlementRequest { FeatureId = "f-bool" }, Global, Now);

        Assert.True(response.HasAccess);
        Assert.True(response.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
    }

    [Fact]
    public void Boolean_PerCallOnly_UsesPerCall()
    {
        var request = new GetBooleanEntitlementRequest
        {
            FeatureId = "f-bool",
            Options = new BooleanEntitlementOptions { Fallback = new BooleanEntitlementFallback { HasAccess = true } },
        };

        var response = EntitlementEvaluator.Boolean(null, request, FallbackSet.Empty, Now);

        Assert.True(response.HasAccess);
        Assert.True(response.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
    }

    [Fact]
    public void Boolean_PerCallAndGlobal_PerCallWins()
    {
        var request = new GetBooleanEntitlementRequest
        {
            FeatureId = "f-bool",
            Options = new BooleanEntitlementOptions { Fallback = new BooleanEntitlementFallback { HasAccess = false } },
        };

        Assert.False(EntitlementEvaluator.Boolean(null, request, Global, Now).HasAccess);
    }

    [Fact]
    public void Boolean_OptionsWithoutFallback_UsesGlobal()
    {
        var request = new GetBooleanEntitlementRequest { FeatureId = "f-bool", Options = new BooleanEntitlementOptions() };

        Assert.True(EntitlementEvaluator.Boolean(null, request, Global, Now).HasAccess);
    }

    // ---- Numeric

    [Fact]
    public void Numeric_NoFallbackAnywhere_Defaults()
    {
        var response = EntitlementEvaluator.Numeric(null, new GetNumericEntitlementRequest { FeatureId = "f-num" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccess);
        Assert.True(response.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.False(response.Entitlement.HasValue);
        Assert.False(response.Entitlement.IsUnlimited);
        Assert.Equal("f-num", response.Entitlement.Feature.Id);
    }

    [Fact]
    public void Numeric_GlobalOnly_UsesGlobalValues()
    {
        var response = EntitlementEvaluator.Numeric(null, new GetNumericEntitlementRequest { FeatureId = "f-num" }, Global, Now);

        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.Equal(10, response.Entitlement.Value);
        Assert.True(response.Entitlement.IsUnlimited);
    }

    [Fact]
    public void Numeric_PerCallAndGlobal_PerCallReplacesWholeGlobal()
    {
        // Replacement, not a field merge: the global's value and isUnlimited do not leak in.
        var request = new GetNumericEntitlementRequest
        {
            FeatureId = "f-num",
            Options = new NumericEntitlementOptions { Fallback = new NumericEntitlementFallback { HasAccess = true } },
        };

        var response = EntitlementEvaluator.Numeric(null, request, Global, Now);

        Assert.True(response.HasAccess);
        Assert.False(response.Entitlement.HasValue);
        Assert.False(response.Entitlement.IsUnlimited);
    }

    [Fact]
    public void Numeric_PerCallOnly_UsesPerCallValues()
    {
        var request = new GetNumericEntitlementRequest
        {
            FeatureId = "f-num",
            Options = new NumericEntitlementOptions { Fallback = new NumericEntitlementFallback { HasAccess = true, Value = 3, IsUnlimited = false } },
        };

        var response = EntitlementEvaluator.Numeric(null, request, FallbackSet.Empty, Now);

        Assert.True(response.HasAccess);
        Assert.Equal(3, response.Entitlement.Value);
    }

    // ---- Metered

    [Fact]
    public void Metered_NoFallbackAnywhere_DefaultsWithRequestedUsageOne()
    {
        var response = EntitlementEvaluator.Metered(null, new GetMeteredEntitlementRequest { FeatureId = "f-meter" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccess);
        Assert.True(response.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.Equal(1, response.RequestedUsage);
        Assert.Equal(0, response.Entitlement.CurrentUsage);
        Assert.False(response.Entitlement.IsUnlimited);
        Assert.True(response.Entitlement.HasHasSoftLimit);
        Assert.False(response.Entitlement.HasSoftLimit);
        Assert.False(response.Entitlement.HasUsageLimit);
    }

    [Fact]
    public void Metered_Fallback_EchoesCallerRequestedUsage()
    {
        var request = new GetMeteredEntitlementRequest { FeatureId = "f-meter", Options = new MeteredEntitlementOptions { RequestedUsage = 7 } };

        Assert.Equal(7, EntitlementEvaluator.Metered(null, request, Global, Now).RequestedUsage);
    }

    [Fact]
    public void Metered_GlobalOnly_UsesGlobalValues()
    {
        var response = EntitlementEvaluator.Metered(null, new GetMeteredEntitlementRequest { FeatureId = "f-meter" }, Global, Now);

        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.Equal(500, response.Entitlement.UsageLimit);
        Assert.Equal(12, response.Entitlement.CurrentUsage);
        Assert.False(response.Entitlement.IsUnlimited);
    }

    [Fact]
    public void Metered_PerCallAndGlobal_PerCallWins()
    {
        var request = new GetMeteredEntitlementRequest
        {
            FeatureId = "f-meter",
            Options = new MeteredEntitlementOptions { Fallback = new MeteredEntitlementFallback { HasAccess = false, IsUnlimited = true } },
        };

        var response = EntitlementEvaluator.Metered(null, request, Global, Now);

        Assert.False(response.HasAccess);
        Assert.True(response.Entitlement.IsUnlimited);
        Assert.False(response.Entitlement.HasUsageLimit);
        Assert.Equal(0, response.Entitlement.CurrentUsage);
    }

    // ---- Enum

    [Fact]
    public void Enum_NoFallbackAnywhere_EmptyValues()
    {
        var response = EntitlementEvaluator.Enum(null, new GetEnumEntitlementRequest { FeatureId = "f-enum" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccess);
        Assert.True(response.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.Empty(response.Entitlement.EnumValues);
    }

    [Fact]
    public void Enum_GlobalOnly_UsesGlobalValues()
    {
        var response = EntitlementEvaluator.Enum(null, new GetEnumEntitlementRequest { FeatureId = "f-enum" }, Global, Now);

        Assert.True(response.HasAccess);
        Assert.Equal(["us", "eu"], response.Entitlement.EnumValues);
    }

    [Fact]
    public void Enum_FallbackWithRequestedValues_LeavesRequestedValuesEmpty()
    {
        // Stigg's enum fallback carries requestedValues = [] whatever was asked; only evaluated answers echo them.
        var request = new GetEnumEntitlementRequest { FeatureId = "f-enum", Options = new EnumEntitlementOptions { RequestedValues = { "us" } } };

        var response = EntitlementEvaluator.Enum(null, request, Global, Now);

        Assert.True(response.IsFallback);
        Assert.Equal(["us", "eu"], response.Entitlement.EnumValues);
        Assert.Empty(response.RequestedValues);
    }

    [Fact]
    public void Enum_PerCallAndGlobal_PerCallWins()
    {
        var request = new GetEnumEntitlementRequest
        {
            FeatureId = "f-enum",
            Options = new EnumEntitlementOptions { Fallback = new EnumEntitlementFallback { HasAccess = false, EnumValues = { "apac" } } },
        };

        var response = EntitlementEvaluator.Enum(null, request, Global, Now);

        Assert.False(response.HasAccess);
        Assert.Equal(["apac"], response.Entitlement.EnumValues);
    }

    // ---- Generic GetEntitlement

    [Fact]
    public void Generic_NoFallbackAnywhere_BooleanDefault()
    {
        var response = EntitlementEvaluator.Entitlement(null, new GetEntitlementRequest { FeatureId = "f-x" }, FallbackSet.Empty, Now);

        Assert.False(response.HasAccess);
        Assert.True(response.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.Equal(GetEntitlementResponse.EntitlementOneofCase.Boolean, response.EntitlementCase);
        Assert.Equal("f-x", response.Boolean.Feature.Id);
    }

    [Fact]
    public void Generic_RequestedUsage_MakesMeteredFallback()
    {
        var request = new GetEntitlementRequest { FeatureId = "f-x", Options = new GetEntitlementOptions { RequestedUsage = 2 } };

        var response = EntitlementEvaluator.Entitlement(null, request, FallbackSet.Empty, Now);

        Assert.Equal(GetEntitlementResponse.EntitlementOneofCase.Metered, response.EntitlementCase);
        Assert.Equal(0, response.Metered.CurrentUsage);
    }

    [Fact]
    public void Generic_RequestedValues_MakesEnumFallback()
    {
        var request = new GetEntitlementRequest { FeatureId = "f-x", Options = new GetEntitlementOptions { RequestedValues = { "a" } } };

        Assert.Equal(GetEntitlementResponse.EntitlementOneofCase.Enum, EntitlementEvaluator.Entitlement(null, request, FallbackSet.Empty, Now).EntitlementCase);
    }

    [Fact]
    public void Generic_PerCallValue_MakesNumericFallback()
    {
        var request = new GetEntitlementRequest
        {
            FeatureId = "f-x",
            Options = new GetEntitlementOptions { Fallback = new GetEntitlementFallback { HasAccess = true, Value = 9 } },
        };

        var response = EntitlementEvaluator.Entitlement(null, request, FallbackSet.Empty, Now);

        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.Equal(9, response.Numeric.Value);
    }

    [Fact]
    public void Generic_GlobalOnly_TypeFromGlobalShape()
    {
        var response = EntitlementEvaluator.Entitlement(null, new GetEntitlementRequest { FeatureId = "f-meter" }, Global, Now);

        Assert.True(response.HasAccess);
        Assert.Equal(AccessDeniedReason.Unknown, response.AccessDeniedReason);
        Assert.Equal(500, response.Metered.UsageLimit);
    }

    [Fact]
    public void Generic_PerCallAndGlobal_PerCallWins()
    {
        var request = new GetEntitlementRequest
        {
            FeatureId = "f-enum",
            Options = new GetEntitlementOptions { Fallback = new GetEntitlementFallback { HasAccess = false } },
        };

        var response = EntitlementEvaluator.Entitlement(null, request, Global, Now);

        Assert.False(response.HasAccess);
        Assert.Equal(GetEntitlementResponse.EntitlementOneofCase.Boolean, response.EntitlementCase);
    }

    // ---- GetEntitlementV2 (features)

    private static GetEntitlementV2Response V2(string featureId, FallbackSet fallbacks, GetEntitlementOptions? options = null)
    {
        var request = new GetEntitlementV2Request { CustomerId = "cust-1", FeatureId = featureId };
        if (options is not null)
        {
            request.Options = options;
        }

        return EntitlementEvaluator.EntitlementV2(null, request, fallbacks, Now);
    }

    [Fact]
    public void V2_NoFallbackAnywhere_DenyUnknown()
    {
        var e = V2("f-bool", FallbackSet.Empty).Entitlement;

        Assert.False(e.HasAccess);
        Assert.True(e.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
        Assert.Equal("f-bool", e.Boolean.Feature.Id);
    }

    [Fact]
    public void V2_GlobalGrants_MergeDropsReason()
    {
        var e = V2("f-num", Global).Entitlement;

        Assert.True(e.HasAccess);
        Assert.True(e.IsFallback);
        Assert.False(e.HasAccessDeniedReason);
        Assert.Equal(10, e.Numeric.Value);
        Assert.True(e.Numeric.IsUnlimited);
    }

    [Fact]
    public void V2_GlobalDenies_KeepsUnknownReason()
    {
        var e = V2("f-denied", Global).Entitlement;

        Assert.False(e.HasAccess);
        Assert.True(e.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
    }

    [Fact]
    public void V2_PerCallGrants_KeepsUnknownReason()
    {
        var options = new GetEntitlementOptions { Fallback = new GetEntitlementFallback { HasAccess = true } };

        var e = V2("f-other", FallbackSet.Empty, options).Entitlement;

        Assert.True(e.HasAccess);
        Assert.True(e.IsFallback);
        Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
    }

    [Fact]
    public void V2_PerCallAndGlobal_PerCallWins()
    {
        var options = new GetEntitlementOptions { Fallback = new GetEntitlementFallback { HasAccess = false } };

        var e = V2("f-bool", Global, options).Entitlement;

        Assert.False(e.HasAccess);
        Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
    }

    [Fact]
    public void V2_RequestedUsageWithGlobal_MeteredFallbackWithGlobalLimit()
    {
        var e = V2("f-meter", Global, new GetEntitlementOptions { RequestedUsage = 1 }).Entitlement;

        Assert.True(e.HasAccess);
        Assert.Equal(EntitlementV2.EntitlementOneofCase.Metered, e.EntitlementCase);
        Assert.Equal(500, e.Metered.UsageLimit);
    }

    // ---- Lists without data

    [Fact]
    public void StateV2_NoData_FallbackListFromGlobalMapInOrder()
    {
        var response = EntitlementEvaluator.EntitlementsStateV2(null, new GetEntitlementsStateV2Request { CustomerId = "cust-1" }, Global, Now);

        Assert.False(response.HasAccessDeniedReason);
        Assert.Equal(["f-bool", "f-num", "f-meter", "f-enum", "f-denied"], response.Entitlements.Select(FeatureIdOf));
        Assert.All(response.Entitlements, e =>
        {
            Assert.True(e.IsFallback);
            Assert.Equal(AccessDeniedReason.Unknown, e.AccessDeniedReason);
        });
        Assert.Equal([true, true, true, true, false], response.Entitlements.Select(e => e.HasAccess));
        Assert.Equal(EntitlementV2.EntitlementOneofCase.Boolean, response.Entitlements[0].EntitlementCase);
        Assert.Equal(10, response.Entitlements[1].Numeric.Value);
        Assert.Equal(500, response.Entitlements[2].Metered.UsageLimit);
        Assert.Equal(["us", "eu"], response.Entitlements[3].Enum.EnumValues);
    }

    [Fact]
    public void StateV2_NoDataNoGlobal_EmptyList()
    {
        var response = EntitlementEvaluator.EntitlementsStateV2(null, new GetEntitlementsStateV2Request(), FallbackSet.Empty, Now);

        Assert.Empty(response.Entitlements);
        Assert.False(response.HasAccessDeniedReason);
    }

    [Fact]
    public void Entitlements_NoData_FallbackListFromGlobalMap()
    {
        var response = EntitlementEvaluator.Entitlements(null, new GetEntitlementsRequest { CustomerId = "cust-1" }, Global, Now);

        Assert.False(response.HasAccessDeniedReason);
        Assert.Equal(5, response.Entitlements.Count);
        Assert.Equal("f-bool", response.Entitlements[0].Boolean.Feature.Id);
        Assert.Equal(10, response.Entitlements[1].Numeric.Value);
        Assert.Equal(500, response.Entitlements[2].Metered.UsageLimit);
        Assert.Equal(["us", "eu"], response.Entitlements[3].Enum.EnumValues);
        Assert.Equal("f-denied", response.Entitlements[4].Boolean.Feature.Id);
    }

    [Fact]
    public void EntitledEntityExists_NoData_False()
    {
        Assert.False(EntitlementEvaluator.EntitledEntityExists(null));
    }

    internal static string FeatureIdOf(EntitlementV2 e) => e.EntitlementCase switch
    {
        EntitlementV2.EntitlementOneofCase.Boolean => e.Boolean.Feature.Id,
        EntitlementV2.EntitlementOneofCase.Numeric => e.Numeric.Feature.Id,
        EntitlementV2.EntitlementOneofCase.Metered => e.Metered.Feature.Id,
        EntitlementV2.EntitlementOneofCase.Enum => e.Enum.Feature.Id,
        EntitlementV2.EntitlementOneofCase.Credit => e.Credit.Currency.CurrencyId,
        _ => "",
    };
}
