using System.Text.Json;
using Sidecar.Core.Json;

namespace Sidecar.Host.Sources;

/// <summary>
/// Reads one customer of the entitlements file into its DTOs with a plain <see cref="Utf8JsonReader"/> loop: several
/// times faster than the serializer's metadata-driven read, which matters at a million customers. It reads the shape
/// the serializer reads the same way by construction — known properties once each, values of their own JSON type —
/// and gives up (null) on anything else: a repeated or differently typed property, a number written as a string, JSON
/// null inside a list. The caller then deserializes that customer with the source-generated contract, which decides it
/// exactly as before (its value or its error).
/// </summary>
internal static class FileCustomerParser
{
    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly EpochMsConverter Instants = new();

    /// <summary>The customer in <paramref name="json"/> (one whole object), or null when the serializer must decide it.</summary>
    /// <param name="json">One customer object, whole.</param>
    /// <param name="strings">
    /// Where repeated values (feature ids, types, units, reasons) are looked up before a string is allocated for them:
    /// a million customers otherwise allocate the same few strings millions of times.
    /// </param>
    /// <param name="scratch">
    /// DTOs to parse into instead of new ones: the customer returned is then valid until the next call with it.
    /// </param>
    public static FileCustomer? TryParse(ReadOnlySpan<byte> json, SnapshotInterner? strings = null, ParseScratch? scratch = null)
    {
        var reader = new Utf8JsonReader(json, ReaderOptions);
        scratch?.Reset();
        try
        {
            return reader.Read() && TryCustomer(ref reader, strings, scratch, out var customer) && !reader.Read() ? customer : null;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static bool TryCustomer(ref Utf8JsonReader reader, SnapshotInterner? strings, ParseScratch? scratch, out FileCustomer customer)
    {
        customer = scratch?.Customer() ?? new FileCustomer();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("customerId"u8))
            {
                // Ids are unique per customer: not worth a place in the pool.
                if (!Once(ref seen, 1) || !TryString(ref reader, null, out var id))
                {
                    return false;
                }

                customer.CustomerId = id;
            }
            else if (reader.ValueTextEquals("resourceId"u8))
            {
                if (!Once(ref seen, 2) || !TryString(ref reader, null, out var id))
                {
                    return false;
                }

                customer.ResourceId = id;
            }
            else if (reader.ValueTextEquals("entitlementsState"u8))
            {
                if (!Once(ref seen, 4) || !reader.Read())
                {
                    return false;
                }

                if (reader.TokenType != JsonTokenType.Null)
                {
                    if (!TryState(ref reader, strings, scratch, out var state))
                    {
                        return false;
                    }

                    customer.EntitlementsState = state;
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool TryState(ref Utf8JsonReader reader, SnapshotInterner? strings, ParseScratch? scratch, out EntitlementsStateDto state)
    {
        state = scratch?.State() ?? new EntitlementsStateDto();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("entitlementsV2"u8))
            {
                if (!Once(ref seen, 1) || !reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                {
                    return false;
                }

                var list = scratch?.Entitlements() ?? new List<EntitlementDto>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (!TryEntitlement(ref reader, strings, scratch, out var entitlement))
                    {
                        return false;
                    }

                    list.Add(entitlement);
                }

                state.EntitlementsV2 = list;
            }
            else if (reader.ValueTextEquals("accessDeniedReason"u8))
            {
                if (!Once(ref seen, 2) || !TryString(ref reader, strings, out var reason))
                {
                    return false;
                }

                state.AccessDeniedReason = reason;
            }
            else if (reader.ValueTextEquals("__typename"u8))
            {
                if (!Once(ref seen, 4) || !TryString(ref reader, strings, out var typeName))
                {
                    return false;
                }

                state.TypeName = typeName;
            }
            else
            {
                reader.Skip();
            }
        }

        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool TryEntitlement(ref Utf8JsonReader reader, SnapshotInterner? strings, ParseScratch? scratch, out EntitlementDto e)
    {
        e = scratch?.Entitlement() ?? new EntitlementDto();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool ok;
            if (reader.ValueTextEquals("feature"u8))
            {
                ok = Once(ref seen, 1 << 0) && TryFeature(ref reader, strings, scratch, e);
            }
            else if (reader.ValueTextEquals("entitlementUpdatedAt"u8))
            {
                ok = Once(ref seen, 1 << 1) && TryInstant(ref reader, out var v) && Set(e.EntitlementUpdatedAt = v);
            }
            else if (reader.ValueTextEquals("usageLimit"u8))
            {
                ok = Once(ref seen, 1 << 2) && TryDouble(ref reader, out var v) && Set(e.UsageLimit = v);
            }
            else if (reader.ValueTextEquals("currentUsage"u8))
            {
                ok = Once(ref seen, 1 << 3) && TryDouble(ref reader, out var v) && Set(e.CurrentUsage = v);
            }
            else if (reader.ValueTextEquals("hasUnlimitedUsage"u8))
            {
                ok = Once(ref seen, 1 << 4) && TryBool(ref reader, out var v) && Set(e.HasUnlimitedUsage = v);
            }
            else if (reader.ValueTextEquals("hasSoftLimit"u8))
            {
                ok = Once(ref seen, 1 << 5) && TryBool(ref reader, out var v) && Set(e.HasSoftLimit = v);
            }
            else if (reader.ValueTextEquals("usageUpdatedAt"u8))
            {
                ok = Once(ref seen, 1 << 6) && TryInstant(ref reader, out var v) && Set(e.UsageUpdatedAt = v);
            }
            else if (reader.ValueTextEquals("usagePeriodAnchor"u8))
            {
                ok = Once(ref seen, 1 << 7) && TryInstant(ref reader, out var v) && Set(e.UsagePeriodAnchor = v);
            }
            else if (reader.ValueTextEquals("usagePeriodStart"u8))
            {
                ok = Once(ref seen, 1 << 8) && TryInstant(ref reader, out var v) && Set(e.UsagePeriodStart = v);
            }
            else if (reader.ValueTextEquals("usagePeriodEnd"u8))
            {
                ok = Once(ref seen, 1 << 9) && TryInstant(ref reader, out var v) && Set(e.UsagePeriodEnd = v);
            }
            else if (reader.ValueTextEquals("resetPeriod"u8))
            {
                ok = Once(ref seen, 1 << 10) && TryString(ref reader, strings, out var v) && Set(e.ResetPeriod = v);
            }
            else if (reader.ValueTextEquals("currency"u8))
            {
                ok = Once(ref seen, 1 << 11) && TryCurrency(ref reader, strings, scratch, e);
            }
            else if (reader.ValueTextEquals("__typename"u8))
            {
                ok = Once(ref seen, 1 << 12) && TryString(ref reader, strings, out var v) && Set(e.TypeName = v);
            }
            else if (reader.ValueTextEquals("isGranted"u8))
            {
                ok = Once(ref seen, 1 << 13) && TryBool(ref reader, out var v) && Set(e.IsGranted = v);
            }
            else if (reader.ValueTextEquals("accessDeniedReason"u8))
            {
                ok = Once(ref seen, 1 << 14) && TryString(ref reader, strings, out var v) && Set(e.AccessDeniedReason = v);
            }
            else if (reader.ValueTextEquals("enumValues"u8))
            {
                ok = Once(ref seen, 1 << 15) && TryStrings(ref reader, strings, scratch, e);
            }
            else if (reader.ValueTextEquals("validUntil"u8))
            {
                ok = Once(ref seen, 1 << 16) && TryInstant(ref reader, out var v) && Set(e.ValidUntil = v);
            }
            else if (reader.ValueTextEquals("resetPeriodConfiguration"u8))
            {
                ok = Once(ref seen, 1 << 17) && TryElement(ref reader, out var v) && Set(e.ResetPeriodConfiguration = v);
            }
            else if (reader.ValueTextEquals("creditRate"u8))
            {
                ok = Once(ref seen, 1 << 18) && TryCreditRate(ref reader, strings, scratch, e);
            }
            else
            {
                reader.Skip();
                ok = true;
            }

            if (!ok)
            {
                return false;
            }
        }

        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool TryFeature(ref Utf8JsonReader reader, SnapshotInterner? strings, ParseScratch? scratch, EntitlementDto e)
    {
        if (!TryOpenObject(ref reader, out var isNull) || isNull)
        {
            e.Feature = null;
            return isNull;
        }

        var f = scratch?.Feature() ?? new FeatureDto();
        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool ok;
            if (reader.ValueTextEquals("refId"u8))
            {
                ok = Once(ref seen, 1 << 0) && TryString(ref reader, strings, out var v) && Set(f.RefId = v);
            }
            else if (reader.ValueTextEquals("featureType"u8))
            {
                ok = Once(ref seen, 1 << 1) && TryString(ref reader, strings, out var v) && Set(f.FeatureType = v);
            }
            else if (reader.ValueTextEquals("meterType"u8))
            {
                ok = Once(ref seen, 1 << 2) && TryString(ref reader, strings, out var v) && Set(f.MeterType = v);
            }
            else if (reader.ValueTextEquals("featureUnits"u8))
            {
                ok = Once(ref seen, 1 << 3) && TryString(ref reader, strings, out var v) && Set(f.FeatureUnits = v);
            }
            else if (reader.ValueTextEquals("featureUnitsPlural"u8))
            {
                ok = Once(ref seen, 1 << 4) && TryString(ref reader, strings, out var v) && Set(f.FeatureUnitsPlural = v);
            }
            else if (reader.ValueTextEquals("displayName"u8))
            {
                ok = Once(ref seen, 1 << 5) && TryString(ref reader, strings, out var v) && Set(f.DisplayName = v);
            }
            else if (reader.ValueTextEquals("__typename"u8))
            {
                ok = Once(ref seen, 1 << 6) && TryString(ref reader, strings, out var v) && Set(f.TypeName = v);
            }
            else if (reader.ValueTextEquals("description"u8))
            {
                ok = Once(ref seen, 1 << 7) && TryString(ref reader, strings, out var v) && Set(f.Description = v);
            }
            else if (reader.ValueTextEquals("unitTransformation"u8))
            {
                ok = Once(ref seen, 1 << 8) && TryElement(ref reader, out var v) && Set(f.UnitTransformation = v);
            }
            else
            {
                reader.Skip();
                ok = true;
            }

            if (!ok)
            {
                return false;
            }
        }

        e.Feature = f;
        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool TryCurrency(ref Utf8JsonReader reader, SnapshotInterner? strings, ParseScratch? scratch, EntitlementDto e)
    {
        if (!TryOpenObject(ref reader, out var isNull) || isNull)
        {
            e.Currency = null;
            return isNull;
        }

        var c = scratch?.Currency() ?? new CurrencyDto();
        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool ok;
            if (reader.ValueTextEquals("currencyId"u8))
            {
                ok = Once(ref seen, 1 << 0) && TryString(ref reader, strings, out var v) && Set(c.CurrencyId = v);
            }
            else if (reader.ValueTextEquals("displayName"u8))
            {
                ok = Once(ref seen, 1 << 1) && TryString(ref reader, strings, out var v) && Set(c.DisplayName = v);
            }
            else if (reader.ValueTextEquals("unitSingular"u8))
            {
                ok = Once(ref seen, 1 << 2) && TryString(ref reader, strings, out var v) && Set(c.UnitSingular = v);
            }
            else if (reader.ValueTextEquals("unitPlural"u8))
            {
                ok = Once(ref seen, 1 << 3) && TryString(ref reader, strings, out var v) && Set(c.UnitPlural = v);
            }
            else if (reader.ValueTextEquals("description"u8))
            {
                ok = Once(ref seen, 1 << 4) && TryString(ref reader, strings, out var v) && Set(c.Description = v);
            }
            else
            {
                reader.Skip();
                ok = true;
            }

            if (!ok)
            {
                return false;
            }
        }

        e.Currency = c;
        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool TryCreditRate(ref Utf8JsonReader reader, SnapshotInterner? strings, ParseScratch? scratch, EntitlementDto e)
    {
        if (!TryOpenObject(ref reader, out var isNull) || isNull)
        {
            e.CreditRate = null;
            return isNull;
        }

        var rate = scratch?.CreditRate() ?? new CreditRateDto();
        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool ok;
            if (reader.ValueTextEquals("amount"u8))
            {
                // Not nullable: JSON null is the serializer's error to report.
                ok = Once(ref seen, 1 << 0) && TryDouble(ref reader, out var v) && v is { } amount && Set(rate.Amount = amount);
            }
            else if (reader.ValueTextEquals("currencyId"u8))
            {
                ok = Once(ref seen, 1 << 1) && TryString(ref reader, strings, out var v) && Set(rate.CurrencyId = v);
            }
            else
            {
                reader.Skip();
                ok = true;
            }

            if (!ok)
            {
                return false;
            }
        }

        e.CreditRate = rate;
        return reader.TokenType == JsonTokenType.EndObject;
    }

    /// <summary>Reads the next value: an object to read (true, not null), JSON null (true, null), or anything else (false).</summary>
    private static bool TryOpenObject(ref Utf8JsonReader reader, out bool isNull)
    {
        isNull = false;
        if (!reader.Read())
        {
            return false;
        }

        isNull = reader.TokenType == JsonTokenType.Null;
        return isNull || reader.TokenType == JsonTokenType.StartObject;
    }

    private static bool TryStrings(ref Utf8JsonReader reader, SnapshotInterner? strings, ParseScratch? scratch, EntitlementDto e)
    {
        if (!reader.Read())
        {
            return false;
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            e.EnumValues = null;
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        var values = scratch?.Strings() ?? new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                return false;
            }

            values.Add(ReadString(ref reader, strings));
        }

        e.EnumValues = values;
        return true;
    }

    /// <summary>Marks a property as read; false the second time (the serializer's last-wins is left to it).</summary>
    private static bool Once(ref int seen, int bit)
    {
        if ((seen & bit) != 0)
        {
            return false;
        }

        seen |= bit;
        return true;
    }

    /// <summary>Lets an assignment sit in a condition chain.</summary>
    private static bool Set<T>(T _) => true;

    private static bool TryString(ref Utf8JsonReader reader, SnapshotInterner? strings, out string? value)
    {
        value = null;
        if (!reader.Read())
        {
            return false;
        }

        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.String:
                value = ReadString(ref reader, strings);
                return true;
            default:
                return false;
        }
    }

    /// <summary>The string token's value, from the pool when it holds it (short, unescaped, valid UTF-8 values).</summary>
    private static string ReadString(ref Utf8JsonReader reader, SnapshotInterner? strings)
    {
        const int MaxPooledChars = 128;
        if (strings is null || reader.HasValueSequence || reader.ValueIsEscaped || reader.ValueSpan.Length > MaxPooledChars)
        {
            return reader.GetString()!;
        }

        Span<char> chars = stackalloc char[MaxPooledChars];
        // Invalid UTF-8 goes to GetString, which rejects it as the serializer does.
        return System.Text.Unicode.Utf8.ToUtf16(reader.ValueSpan, chars, out _, out var written, replaceInvalidSequences: false) == System.Buffers.OperationStatus.Done
            ? strings.Intern(chars[..written])
            : reader.GetString()!;
    }

    private static bool TryBool(ref Utf8JsonReader reader, out bool? value)
    {
        value = null;
        if (!reader.Read())
        {
            return false;
        }

        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.True:
                value = true;
                return true;
            case JsonTokenType.False:
                value = false;
                return true;
            default:
                return false;
        }
    }

    private static bool TryDouble(ref Utf8JsonReader reader, out double? value)
    {
        value = null;
        if (!reader.Read())
        {
            return false;
        }

        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.Number when reader.TryGetDouble(out var d):
                value = d;
                return true;
            default:
                // A number in a string (read by the serializer under AllowReadingFromString) or out of range.
                return false;
        }
    }

    private static bool TryInstant(ref Utf8JsonReader reader, out long? value)
    {
        value = null;
        if (!reader.Read())
        {
            return false;
        }

        if (reader.TokenType is not (JsonTokenType.Null or JsonTokenType.Number or JsonTokenType.String))
        {
            return false;
        }

        // The converter the serializer applies to these properties, so both read an instant the same way.
        value = Instants.Read(ref reader, typeof(long?), CoreJsonContext.Default.Options);
        return true;
    }

    private static bool TryElement(ref Utf8JsonReader reader, out JsonElement? value)
    {
        value = null;
        if (!reader.Read())
        {
            return false;
        }

        if (reader.TokenType != JsonTokenType.Null)
        {
            value = JsonElement.ParseValue(ref reader);
        }

        return true;
    }
}

/// <summary>
/// The DTOs one thread parses customers into, again and again: each customer's are only read (hashed, mapped) before
/// the next is parsed, and a million customers would otherwise allocate a million sets. Each comes back as a new one
/// is (FileParsingTests checks every property).
/// </summary>
internal sealed class ParseScratch
{
    private readonly FileCustomer _customer = new();
    private readonly EntitlementsStateDto _state = new();
    private readonly List<EntitlementDto> _list = [];
    private readonly Pool<EntitlementDto> _entitlements = new(Clear);
    private readonly Pool<FeatureDto> _features = new(Clear);
    private readonly Pool<CurrencyDto> _currencies = new(Clear);
    private readonly Pool<CreditRateDto> _rates = new(Clear);
    private readonly Pool<List<string>> _strings = new(static l => l.Clear());

    /// <summary>Everything handed out before is free again.</summary>
    public void Reset()
    {
        _entitlements.Reset();
        _features.Reset();
        _currencies.Reset();
        _rates.Reset();
        _strings.Reset();
    }

    public FileCustomer Customer()
    {
        _customer.CustomerId = null;
        _customer.ResourceId = null;
        _customer.EntitlementsState = null;
        return _customer;
    }

    public EntitlementsStateDto State()
    {
        _state.TypeName = "EntitlementsState";
        _state.AccessDeniedReason = null;
        _state.EntitlementsV2 = Entitlements();
        return _state;
    }

    public List<EntitlementDto> Entitlements()
    {
        _list.Clear();
        return _list;
    }

    public EntitlementDto Entitlement() => _entitlements.Next();

    public FeatureDto Feature() => _features.Next();

    public CurrencyDto Currency() => _currencies.Next();

    public CreditRateDto CreditRate() => _rates.Next();

    public List<string> Strings() => _strings.Next();

    private static void Clear(EntitlementDto e)
    {
        e.TypeName = null;
        e.IsGranted = null;
        e.AccessDeniedReason = null;
        e.UsageLimit = null;
        e.HasUnlimitedUsage = null;
        e.HasSoftLimit = null;
        e.CurrentUsage = null;
        e.EnumValues = null;
        e.EntitlementUpdatedAt = null;
        e.UsageUpdatedAt = null;
        e.UsagePeriodAnchor = null;
        e.UsagePeriodStart = null;
        e.UsagePeriodEnd = null;
        e.ResetPeriod = null;
        e.ResetPeriodConfiguration = null;
        e.Feature = null;
        e.CreditRate = null;
        e.Currency = null;
        e.ValidUntil = null;
    }

    private static void Clear(FeatureDto f)
    {
        f.TypeName = "EntitlementFeature";
        f.RefId = null;
        f.DisplayName = null;
        f.Description = null;
        f.FeatureType = null;
        f.MeterType = null;
        f.FeatureUnits = null;
        f.FeatureUnitsPlural = null;
        f.UnitTransformation = null;
    }

    private static void Clear(CurrencyDto c)
    {
        c.CurrencyId = null;
        c.DisplayName = null;
        c.Description = null;
        c.UnitSingular = null;
        c.UnitPlural = null;
    }

    private static void Clear(CreditRateDto r)
    {
        r.Amount = 0;
        r.CurrencyId = null;
    }

    private sealed class Pool<T>(Action<T> clear)
        where T : new()
    {
        private readonly List<T> _items = [];
        private int _used;

        public void Reset() => _used = 0;

        public T Next()
        {
            if (_used == _items.Count)
            {
                _items.Add(new T());
            }

            var item = _items[_used++];
            clear(item);
            return item;
        }
    }
}
