using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json;
using Sidecar.Core.Json;

namespace Sidecar.Host.Sources;

/// <summary>
/// A 128-bit hash of an <see cref="EntitlementsStateDto"/> over every field, in a fixed order: two states hash the same
/// exactly when they would serialize to the same JSON (what a reload compares), without writing that JSON. Each value
/// is written with a tag and its length, so no two different states give the same stream of bytes; instants are the
/// epoch milliseconds the JSON is written from, numbers their IEEE bits, embedded JSON (<c>resetPeriodConfiguration</c>,
/// <c>unitTransformation</c>) the compact form the serializer writes. Every DTO property is listed here
/// (StateHasherTests fails when one is added and not hashed). The bytes are gathered in one buffer and hashed at once
/// (many small appends to a streaming hash cost more than the hashing). One instance per thread: not thread-safe.
/// </summary>
internal sealed class StateHasher : IDisposable
{
    private const byte Null = 0;
    private const byte Present = 1;

    private byte[] _bytes = new byte[1024];
    private int _length;
    private readonly ArrayBufferWriter<byte> _element = new(256);
    private Utf8JsonWriter? _elementWriter;

    public UInt128 Hash(EntitlementsStateDto state)
    {
        _length = 0;
        String(state.TypeName);
        String(state.AccessDeniedReason);
        if (state.EntitlementsV2 is not { } list)
        {
            Tag(Null);
        }
        else
        {
            Int(list.Count);
            foreach (var e in list)
            {
                Entitlement(e);
            }
        }

        return XxHash128.HashToUInt128(_bytes.AsSpan(0, _length));
    }

    public void Dispose() => _elementWriter?.Dispose();

    private void Entitlement(EntitlementDto? e)
    {
        if (e is null)
        {
            Tag(Null);
            return;
        }

        Tag(Present);
        String(e.TypeName);
        Bool(e.IsGranted);
        String(e.AccessDeniedReason);
        Double(e.UsageLimit);
        Bool(e.HasUnlimitedUsage);
        Bool(e.HasSoftLimit);
        Double(e.CurrentUsage);
        if (e.EnumValues is not { } values)
        {
            Tag(Null);
        }
        else
        {
            Int(values.Count);
            foreach (var v in values)
            {
                String(v);
            }
        }

        Long(e.EntitlementUpdatedAt);
        Long(e.UsageUpdatedAt);
        Long(e.UsagePeriodAnchor);
        Long(e.UsagePeriodStart);
        Long(e.UsagePeriodEnd);
        String(e.ResetPeriod);
        Element(e.ResetPeriodConfiguration);
        Feature(e.Feature);
        if (e.CreditRate is not { } rate)
        {
            Tag(Null);
        }
        else
        {
            Tag(Present);
            Double(rate.Amount);
            String(rate.CurrencyId);
        }

        if (e.Currency is not { } currency)
        {
            Tag(Null);
        }
        else
        {
            Tag(Present);
            String(currency.CurrencyId);
            String(currency.DisplayName);
            String(currency.Description);
            String(currency.UnitSingular);
            String(currency.UnitPlural);
        }

        Long(e.ValidUntil);
    }

    private void Feature(FeatureDto? f)
    {
        if (f is null)
        {
            Tag(Null);
            return;
        }

        Tag(Present);
        String(f.TypeName);
        String(f.RefId);
        String(f.DisplayName);
        String(f.Description);
        String(f.FeatureType);
        String(f.MeterType);
        String(f.FeatureUnits);
        String(f.FeatureUnitsPlural);
        Element(f.UnitTransformation);
    }

    private void Tag(byte tag) => Take(1)[0] = tag;

    private void Int(int value)
    {
        var bytes = Take(5);
        bytes[0] = Present;
        BinaryPrimitives.WriteInt32LittleEndian(bytes[1..], value);
    }

    private void Append(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

    /// <summary>The next <paramref name="count"/> bytes of the buffer, counted as written.</summary>
    private Span<byte> Take(int count)
    {
        if (_bytes.Length - _length < count)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + count));
        }

        var span = _bytes.AsSpan(_length, count);
        _length += count;
        return span;
    }

    private void String(string? value)
    {
        if (value is null)
        {
            Tag(Null);
            return;
        }

        Int(value.Length);
        Append(MemoryMarshal.AsBytes(value.AsSpan()));
    }

    private void Bool(bool? value) => Tag(value switch { null => Null, false => 2, true => 3 });

    private void Long(long? value)
    {
        if (value is not { } v)
        {
            Tag(Null);
            return;
        }

        var bytes = Take(9);
        bytes[0] = Present;
        BinaryPrimitives.WriteInt64LittleEndian(bytes[1..], v);
    }

    private void Double(double? value) => Long(value is { } d ? BitConverter.DoubleToInt64Bits(d) : null);

    private void Element(JsonElement? value)
    {
        if (value is not { } element)
        {
            Tag(Null);
            return;
        }

        // As the serializer writes it: whitespace dropped, strings re-escaped, numbers as written.
        _element.ResetWrittenCount();
        if (_elementWriter is null)
        {
            _elementWriter = new Utf8JsonWriter(_element);
        }
        else
        {
            _elementWriter.Reset(_element);
        }

        element.WriteTo(_elementWriter);
        _elementWriter.Flush();
        Int(_element.WrittenCount);
        Append(_element.WrittenSpan);
    }
}
