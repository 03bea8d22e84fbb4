using System.Reflection;
using System.Text.Json;
using Sidecar.Core.Json;
using Sidecar.Host.Sources;

namespace Sidecar.Host.Tests;

/// <summary>
/// The fast per-customer reader and the state hash stand in for the serializer: the reader must read what the
/// serializer reads (or leave it to it), and the hash must tell apart exactly the states that serialize differently.
/// </summary>
public sealed class FileParsingTests
{
    public static TheoryData<string> ReadByTheFastReader => new()
    {
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[]}}""",
        """{"customerId":"a","resourceId":"r","entitlementsState":{"__typename":null,"accessDeniedReason":"CustomerNotFound","entitlementsV2":[]}}""",
        // Epoch milliseconds, ISO strings, a fractional epoch and an unparseable date (read as absent).
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[{"entitlementUpdatedAt":1793527200000,"usageUpdatedAt":"2026-11-01T10:00:00.000Z","usagePeriodEnd":1.5e12,"validUntil":"not a date","feature":{"refId":"f","featureType":"NUMBER","meterType":"Incremental","featureUnits":"call","featureUnitsPlural":"calls"},"usageLimit":10,"currentUsage":2.5,"hasSoftLimit":true,"resetPeriod":"MONTH","resetPeriodConfiguration":{"monthlyAccordingTo" : "SubscriptionStart"}}]}}""",
        // Unknown properties anywhere, comments, trailing commas, escaped property names, nulls for optional values.
        """{"x":{"y":[1,{"z":null}]},/* c */"customerId":"a","entitlementsState":{"entitlementsV2":[{"\u0066eature":{"refId":"f","unitTransformation":{"divideBy":1000,"round":"UP"},"extra":true},"enumValues":["eu","us"],"isGranted":false,"accessDeniedReason":"Revoked",},{"currency":{"currencyId":"c","displayName":"C","description":"d","unitSingular":"u","unitPlural":"us"},"creditRate":null,"feature":null,"__typename":"CreditEntitlement"}],},}""",
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[{"feature":{"refId":"f"},"creditRate":{"amount":0.25,"currencyId":"c"},"enumValues":null,"hasUnlimitedUsage":null}]}}""",
        """{"customerId":"a","entitlementsState":null}""",
    };

    public static TheoryData<string> LeftToTheSerializer => new()
    {
        // A number written as a string (read under AllowReadingFromString), a repeated property (last wins), JSON null
        // in a list, null for a value that cannot be null, null for the list itself.
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[{"usageLimit":"12"}]}}""",
        """{"customerId":"a","customerId":"b","entitlementsState":{"entitlementsV2":[]}}""",
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[{"feature":{"refId":"f","refId":"g"}}]}}""",
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[{"enumValues":["eu",null]}]}}""",
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[null]}}""",
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[{"creditRate":{"amount":null}}]}}""",
        """{"customerId":"a","entitlementsState":{"entitlementsV2":null}}""",
        """{"customerId":"a","entitlementsState":{"entitlementsV2":[{"isGranted":"yes"}]}}""",
    };

    [Theory]
    [MemberData(nameof(ReadByTheFastReader))]
    public void TryParse_PlainShapes_ReadsWhatTheSerializerReads(string json)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);

        var fast = FileCustomerParser.TryParse(bytes);
        var serializer = JsonSerializer.Deserialize(bytes, CoreJsonContext.Default.FileCustomer)!;

        Assert.NotNull(fast);
        Assert.Equal(Serialize(serializer), Serialize(fast));
    }

    /// <summary>
    /// Parsing into reused DTOs must leave nothing of the customer parsed before: the one before has every property
    /// set (the state the hash test below checks is complete).
    /// </summary>
    [Theory]
    [MemberData(nameof(ReadByTheFastReader))]
    public void TryParse_IntoDtosReusedAfterAFullCustomer_ReadsWhatAFreshParseReads(string json)
    {
        var scratch = new ParseScratch();
        var full = JsonSerializer.SerializeToUtf8Bytes(
            new FileCustomer { CustomerId = "full", ResourceId = "r", EntitlementsState = FullState() },
            CoreJsonContext.Default.FileCustomer);
        Assert.NotNull(FileCustomerParser.TryParse(full, null, scratch));
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);

        var reused = FileCustomerParser.TryParse(bytes, null, scratch);
        var fresh = FileCustomerParser.TryParse(bytes);

        Assert.NotNull(reused);
        Assert.Equal(Serialize(fresh!), Serialize(reused));
    }

    [Theory]
    [MemberData(nameof(LeftToTheSerializer))]
    public void TryParse_ShapesOnlyTheSerializerDecides_GivesUp(string json)
    {
        Assert.Null(FileCustomerParser.TryParse(System.Text.Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Hash_SameStateWrittenDifferently_Equal()
    {
        var compact = """{"entitlementsV2":[{"feature":{"refId":"f","unitTransformation":{"a":1}},"usageLimit":10,"entitlementUpdatedAt":1793527200000}]}""";
        var other = """{ "entitlementsV2": [ { "entitlementUpdatedAt": "2026-11-01T10:00:00.000Z", "usageLimit": 1e1, "feature": { "unitTransformation": { "a" : 1 }, "refId": "f" } } ] }""";
        using var hasher = new StateHasher();

        var a = hasher.Hash(JsonSerializer.Deserialize(compact, CoreJsonContext.Default.EntitlementsStateDto)!);
        var b = hasher.Hash(JsonSerializer.Deserialize(other, CoreJsonContext.Default.EntitlementsStateDto)!);

        Assert.Equal(a, b);
    }

    /// <summary>
    /// Every property of every DTO in a state, changed alone, changes the hash: a property added to the DTOs and not
    /// to <see cref="StateHasher"/> fails here, instead of a reload silently ignoring changes to it.
    /// </summary>
    [Fact]
    public void Hash_AnyOnePropertyChanged_Differs()
    {
        using var hasher = new StateHasher();
        var baseline = hasher.Hash(FullState());
        var checkedProperties = new List<string>();

        foreach (var (owner, property) in DtoProperties())
        {
            var state = FullState();
            var target = owner == typeof(EntitlementsStateDto) ? state : Find(state, owner);
            property.SetValue(target, OtherValue(property.PropertyType, property.GetValue(target)));

            Assert.True(hasher.Hash(state) != baseline, $"{owner.Name}.{property.Name} is not hashed");
            checkedProperties.Add($"{owner.Name}.{property.Name}");
        }

        Assert.Equal(5, checkedProperties.Select(p => p.Split('.')[0]).Distinct().Count());
    }

    private static IEnumerable<(Type Owner, PropertyInfo Property)> DtoProperties() =>
        new[] { typeof(EntitlementsStateDto), typeof(EntitlementDto), typeof(FeatureDto), typeof(CreditRateDto), typeof(CurrencyDto) }
            .SelectMany(t => t.GetProperties().Where(p => p.CanWrite && p.GetCustomAttribute<System.Text.Json.Serialization.JsonIgnoreAttribute>() is null).Select(p => (t, p)));

    private static object Find(EntitlementsStateDto state, Type owner)
    {
        var e = state.EntitlementsV2[0];
        return owner == typeof(EntitlementDto) ? e
            : owner == typeof(FeatureDto) ? e.Feature!
            : owner == typeof(CreditRateDto) ? e.CreditRate!
            : e.Currency!;
    }

    /// <summary>A state with every property set, so each can be changed from a value to another one.</summary>
    private static EntitlementsStateDto FullState() => JsonSerializer.Deserialize(
        """
        {"__typename":"EntitlementsState","accessDeniedReason":"Unknown","entitlementsV2":[{"__typename":"FeatureEntitlement","isGranted":true,
         "accessDeniedReason":"Revoked","usageLimit":10,"hasUnlimitedUsage":false,"hasSoftLimit":false,"currentUsage":1,"enumValues":["a"],
         "entitlementUpdatedAt":1000,"usageUpdatedAt":2000,"usagePeriodAnchor":3000,"usagePeriodStart":4000,"usagePeriodEnd":5000,
         "resetPeriod":"MONTH","resetPeriodConfiguration":{"x":1},"validUntil":6000,
         "feature":{"__typename":"EntitlementFeature","refId":"f","displayName":"F","description":"d","featureType":"NUMBER","meterType":"None",
                    "featureUnits":"u","featureUnitsPlural":"us","unitTransformation":{"y":2}},
         "creditRate":{"amount":0.5,"currencyId":"c"},
         "currency":{"currencyId":"c","displayName":"C","description":"d","unitSingular":"s","unitPlural":"p"}}]}
        """,
        CoreJsonContext.Default.EntitlementsStateDto)!;

    private static object? OtherValue(Type type, object? current) => type switch
    {
        _ when type == typeof(string) => current + "-changed",
        _ when type == typeof(bool?) => !(bool)current!,
        _ when type == typeof(double?) || type == typeof(double) => (double)current! + 1,
        _ when type == typeof(long?) => (long)current! + 1,
        _ when type == typeof(List<string>) => new List<string> { "a", "b" },
        _ when type == typeof(JsonElement?) => JsonDocument.Parse("""{"z":3}""").RootElement.Clone(),
        _ when type == typeof(List<EntitlementDto>) => new List<EntitlementDto>(),
        _ when type == typeof(FeatureDto) => new FeatureDto { RefId = "other" },
        _ when type == typeof(CreditRateDto) => new CreditRateDto { Amount = 9 },
        _ when type == typeof(CurrencyDto) => new CurrencyDto { CurrencyId = "other" },
        _ => throw new InvalidOperationException($"no other value for {type} (extend the test with the new property type)"),
    };

    private static string Serialize(FileCustomer customer) => JsonSerializer.Serialize(customer, CoreJsonContext.Default.FileCustomer);
}
