using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>
/// Our own fuzzer over every RPC: valid requests mutated at the byte level (bit flips, truncation, garbage, appended
/// fields) and boundary values, sent as raw bytes. Whatever arrives, the answer is OK or INVALID_ARGUMENT (or another
/// status that names a cause) — never UNKNOWN or INTERNAL. A fixed seed keeps a failure reproducible.
/// </summary>
public sealed class FuzzTests(SampleFileSidecar fixture) : IClassFixture<SampleFileSidecar>
{
    private const int MutationsPerMethod = 60;
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(static b => b, static b => b);

    public static TheoryData<string> Methods => new()
    {
        "GetEntitlements", "GetEntitlement", "GetBooleanEntitlement", "GetNumericEntitlement", "GetMeteredEntitlement",
        "GetEnumEntitlement", "ReportUsage", "ReportEvents", "ReloadEntitlements", "ReportUsageBulk",
        "GetEntitlementV2", "GetEntitlementsStateV2",
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task Rpc_MutatedAndBoundaryRequests_NeverUnknownOrInternal(string method)
    {
        var invoker = fixture.Host.Channel.CreateCallInvoker();
        var call = new Method<byte[], byte[]>(MethodType.Unary, "stigg.sidecar.v1.SidecarService", method, Raw, Raw);
        var random = new Random(method.GetHashCode(StringComparison.Ordinal) ^ 20261130);
        var inputs = Boundary(method).Select(m => m.ToByteArray()).ToList();
        var seed = Valid(method).ToByteArray();
        for (var i = 0; i < MutationsPerMethod; i++)
        {
            inputs.Add(Mutate(seed, random));
        }

        var answers = new List<(StatusCode Code, string Detail, string Input)>();
        foreach (var input in inputs)
        {
            try
            {
                await invoker.AsyncUnaryCall(call, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)), input);
                answers.Add((StatusCode.OK, string.Empty, Convert.ToHexString(input)));
            }
            catch (RpcException ex)
            {
                answers.Add((ex.StatusCode, ex.Status.Detail, Convert.ToHexString(input)));
            }
        }

        Assert.All(answers, a => Assert.True(a.Code is not (StatusCode.Unknown or StatusCode.Internal), $"{method} answered {a.Code} '{a.Detail}' to {a.Input}"));
        Assert.Contains(answers, a => a.Code == StatusCode.OK);
        Assert.Contains(answers, a => a.Code == StatusCode.InvalidArgument);
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = seed.ToArray();
        switch (random.Next(5))
        {
            case 0: // flip bits
                for (var n = random.Next(1, 4); n > 0 && bytes.Length > 0; n--)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            case 1: // truncate
                return bytes[..random.Next(bytes.Length + 1)];
            case 2: // garbage
                var garbage = new byte[random.Next(1, 64)];
                random.NextBytes(garbage);
                return garbage;
            case 3: // an unknown or repeated field appended
                var extra = new byte[random.Next(2, 16)];
                random.NextBytes(extra);
                return [.. bytes, .. extra];
            default: // a byte set to a boundary value
                if (bytes.Length > 0)
                {
                    bytes[random.Next(bytes.Length)] = (byte)(random.Next(2) == 0 ? 0x00 : 0xFF);
                }

                return bytes;
        }
    }

    private static IMessage Valid(string method) => method switch
    {
        "GetEntitlements" => new GetEntitlementsRequest { CustomerId = "acme" },
        "GetEntitlement" => new GetEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Options = new GetEntitlementOptions { RequestedUsage = 1 } },
        "GetBooleanEntitlement" => new GetBooleanEntitlementRequest { CustomerId = "acme", FeatureId = "feature-sso" },
        "GetNumericEntitlement" => new GetNumericEntitlementRequest { CustomerId = "acme", FeatureId = "feature-seats" },
        "GetMeteredEntitlement" => new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Options = new MeteredEntitlementOptions { RequestedUsage = 1 } },
        "GetEnumEntitlement" => new GetEnumEntitlementRequest { CustomerId = "acme", FeatureId = "feature-region" },
        "ReportUsage" => Usage(1, null),
        "ReportEvents" => Events(null, 1),
        "ReloadEntitlements" => new ReloadEntitlementsRequest { CustomerId = "acme" },
        "ReportUsageBulk" => new ReportUsageBulkRequest { Usages = { Usage(1, null), Usage(2, null) } },
        "GetEntitlementV2" => new GetEntitlementV2Request { CustomerId = "acme", FeatureId = "feature-api-calls" },
        _ => new GetEntitlementsStateV2Request { CustomerId = "acme" },
    };

    private static IEnumerable<IMessage> Boundary(string method)
    {
        var huge = new string('x', 100_000);
        yield return Valid(method);
        switch (method)
        {
            case "ReportUsage":
                yield return Usage(double.NaN, null);
                yield return Usage(double.MaxValue, new Timestamp { Seconds = long.MaxValue });
                yield return Usage(-double.Epsilon, new Timestamp { Seconds = long.MinValue, Nanos = int.MinValue });
                yield return Usage(1, new Timestamp { Seconds = 253_402_300_799, Nanos = 999_999_999 });
                break;
            case "ReportEvents":
                yield return Events(new Timestamp { Nanos = -1 }, double.PositiveInfinity);
                yield return Events(new Timestamp { Seconds = -62_135_596_800 }, double.MinValue);
                break;
            case "GetMeteredEntitlement":
                yield return new GetMeteredEntitlementRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Options = new MeteredEntitlementOptions { RequestedUsage = double.NegativeInfinity } };
                yield return new GetMeteredEntitlementRequest { CustomerId = huge, FeatureId = "feature-api-calls" };
                break;
            default:
                yield return new GetBooleanEntitlementRequest { CustomerId = huge, FeatureId = huge };
                break;
        }
    }

    private static ReportUsageRequest Usage(double value, Timestamp? timestamp)
    {
        var usage = new ReportUsageRequest { CustomerId = "acme", FeatureId = "feature-api-calls", Value = value, Timestamp = timestamp };
        usage.Dimensions.Add("region", new EventDimensionValue { StringValue = "eu" });
        return usage;
    }

    private static ReportEventsRequest Events(Timestamp? timestamp, double dimension)
    {
        var e = new Event { EventName = "api-call", CustomerId = "acme", IdempotencyKey = "k-1", Timestamp = timestamp };
        e.Dimensions.Add("n", new EventDimensionValue { NumberValue = dimension });
        return new ReportEventsRequest { Events = { e } };
    }
}
