using System.Buffers.Binary;
using System.Globalization;
using Google.Protobuf;
using Stigg.Sidecar.V1;

namespace Sidecar.LoadClient;

/// <summary>One pre-encoded call: the HTTP/2 path and the gRPC length-prefixed message.</summary>
internal readonly record struct Call(string Path, byte[] Frame);

/// <summary>Builds pre-encoded gRPC request frames for each kind of check the harness drives.</summary>
internal static class Requests
{
    public const string Service = "/stigg.sidecar.v1.SidecarService/";
    public const string HealthPath = "/grpc.health.v1.Health/Check";

    public static Call Build(string kind, string customerId, string featureId) => kind switch
    {
        "boolean" => new(Service + "GetBooleanEntitlement", Frame(new GetBooleanEntitlementRequest { CustomerId = customerId, FeatureId = featureId })),
        "numeric" => new(Service + "GetNumericEntitlement", Frame(new GetNumericEntitlementRequest { CustomerId = customerId, FeatureId = featureId })),
        "metered" => new(Service + "GetMeteredEntitlement", Frame(new GetMeteredEntitlementRequest
        {
            CustomerId = customerId,
            FeatureId = featureId,
            Options = new MeteredEntitlementOptions { RequestedUsage = 1 },
        })),
        "enum" => new(Service + "GetEnumEntitlement", Frame(new GetEnumEntitlementRequest
        {
            CustomerId = customerId,
            FeatureId = featureId,
            Options = new EnumEntitlementOptions { RequestedValues = { "us-east-1" } },
        })),
        "v2-credit" => new(Service + "GetEntitlementV2", Frame(new GetEntitlementV2Request
        {
            CustomerId = customerId,
            CurrencyId = featureId,
            Options = new GetEntitlementOptions { RequestedUsage = 1 },
        })),
        // grpc.health.v1.HealthCheckRequest { service = "" } encodes to zero bytes.
        "health" => new(HealthPath, Frame(ReadOnlySpan<byte>.Empty)),
        _ => throw new OptionException($"--kind: unknown kind '{kind}' (boolean, numeric, metered, enum, v2-credit, health)"),
    };

    public static string CustomerId(int index) => "cust-" + index.ToString("D6", CultureInfo.InvariantCulture);

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    /// <summary>The gRPC message prefix: one compression flag byte (0) and a 4-byte big-endian length.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }

    /// <summary>The message inside a unary response body (empty when the body holds no complete message).</summary>
    public static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> body)
    {
        if (body.Length < 5)
        {
            return [];
        }

        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body[1..]);
        return body.Length >= 5 + length ? body.Slice(5, length) : [];
    }

    /// <summary>True when the decoded response of a sidecar check says it came from the fallback.</summary>
    public static bool IsFallback(string kind, ReadOnlySpan<byte> payload) => kind switch
    {
        "boolean" => GetBooleanEntitlementResponse.Parser.ParseFrom(payload).IsFallback,
        "numeric" => GetNumericEntitlementResponse.Parser.ParseFrom(payload).IsFallback,
        "metered" => GetMeteredEntitlementResponse.Parser.ParseFrom(payload).IsFallback,
        "enum" => GetEnumEntitlementResponse.Parser.ParseFrom(payload).IsFallback,
        "v2-credit" => GetEntitlementV2Response.Parser.ParseFrom(payload).Entitlement?.IsFallback ?? true,
        _ => false,
    };

    public static string Describe(string kind, ReadOnlySpan<byte> payload) => kind switch
    {
        "boolean" => JsonFormatter.Default.Format(GetBooleanEntitlementResponse.Parser.ParseFrom(payload)),
        "numeric" => JsonFormatter.Default.Format(GetNumericEntitlementResponse.Parser.ParseFrom(payload)),
        "metered" => JsonFormatter.Default.Format(GetMeteredEntitlementResponse.Parser.ParseFrom(payload)),
        "enum" => JsonFormatter.Default.Format(GetEnumEntitlementResponse.Parser.ParseFrom(payload)),
        "v2-credit" => JsonFormatter.Default.Format(GetEntitlementV2Response.Parser.ParseFrom(payload)),
        _ => "{\"bytes\":" + payload.Length.ToString(CultureInfo.InvariantCulture) + "}",
    };
}
