using System.Reflection;
using Microsoft.Extensions.Logging;
using Sidecar.Core.Json;
using Sidecar.Emulator.Internal;
using Sidecar.Testing;

namespace Sidecar.Emulator.Tests;

public sealed class PeriodsTests
{
    private static long Ms(int y, int mo, int d, int h = 0) => new DateTimeOffset(y, mo, d, h, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void Containing_MonthFromDay31Anchor_ClampsDayOfMonth()
    {
        var period = Periods.Containing(Ms(2026, 1, 31), "MONTH", Ms(2026, 2, 28, 12));

        Assert.Equal((Ms(2026, 2, 28), Ms(2026, 3, 31)), period);
    }

    [Fact]
    public void Containing_DayAfterManyPeriods_StartsAtMidnightFromAnchor()
    {
        var period = Periods.Containing(Ms(2026, 1, 1), "DAY", Ms(2026, 11, 23, 5));

        Assert.Equal((Ms(2026, 11, 23), Ms(2026, 11, 24)), period);
    }

    [Fact]
    public void Containing_YearAndHourAndWeek_AreCountedFromAnchor()
    {
        Assert.Equal((Ms(2026, 3, 1), Ms(2027, 3, 1)), Periods.Containing(Ms(2024, 3, 1), "YEAR", Ms(2026, 11, 1)));
        Assert.Equal((Ms(2026, 11, 1, 5), Ms(2026, 11, 1, 6)), Periods.Containing(Ms(2026, 1, 1), "hour", Ms(2026, 11, 1, 5) + 1));
        Assert.Equal((Ms(2026, 1, 8), Ms(2026, 1, 15)), Periods.Containing(Ms(2026, 1, 1), "WEEK", Ms(2026, 1, 14)));
        Assert.Null(Periods.Containing(Ms(2026, 1, 1), "DECADE", Ms(2026, 1, 14)));
    }

    [Fact]
    public void RollOver_EndedPeriodOnly_ResetsUsage()
    {
        var ended = new EntitlementDto { ResetPeriod = "MONTH", CurrentUsage = 9, UsagePeriodAnchor = Ms(2026, 1, 15), UsagePeriodStart = Ms(2026, 10, 15), UsagePeriodEnd = Ms(2026, 11, 15), Feature = new FeatureDto { RefId = "a" } };
        var current = new EntitlementDto { ResetPeriod = "MONTH", CurrentUsage = 4, UsagePeriodAnchor = Ms(2026, 1, 1), UsagePeriodStart = Ms(2026, 11, 1), UsagePeriodEnd = Ms(2026, 12, 1), Feature = new FeatureDto { RefId = "b" } };
        var list = new List<EntitlementDto> { ended, current };

        Assert.True(Periods.RollOver(list, Ms(2026, 11, 20)));

        Assert.Equal(0, ended.CurrentUsage);
        Assert.Equal(Ms(2026, 11, 15), ended.UsagePeriodStart);
        Assert.Equal(Ms(2026, 12, 15), ended.UsagePeriodEnd);
        Assert.Equal(4, current.CurrentUsage);
        Assert.Equal(Ms(2026, 12, 1), Periods.NextRollover(list));
    }
}

public sealed class GraphQlDocumentTests
{
    [Theory]
    [InlineData("query GetEntitlementsState($q: X!) { entitlementsState(query: $q) { a } }", "entitlementsState")]
    [InlineData("# comment {\n mutation { r: reportUsage(input: $i) { id } }", "reportUsage")]
    [InlineData("query Q($a: String = \"{x}\") { sdkConfiguration { a } }", "sdkConfiguration")]
    [InlineData("{}", null)]
    public void RootField_SkipsAliasesCommentsAndStrings(string query, string? expected)
    {
        Assert.Equal(expected, GraphQlDocument.RootField(query));
    }

    [Fact]
    public void ResolveOperation_PrefersOperationNameThenDeclaredNameThenRootField()
    {
        Assert.Equal(GraphQlOperation.ReportUsage, GraphQlDocument.ResolveOperation("ReportUsage", "query X { entitlementsState { a } }"));
        Assert.Equal(GraphQlOperation.ReportEvent, GraphQlDocument.ResolveOperation(null, "mutation ReportEvent($e: E!) { x }"));
        Assert.Equal(GraphQlOperation.ReportUsageBulk, GraphQlDocument.ResolveOperation("Custom", "mutation Custom { reportUsageBulk(input: $i) { id } }"));
        Assert.Null(GraphQlDocument.ResolveOperation("Custom", "query Custom { paywall { a } }"));
    }
}

public sealed class ProgramTests
{
    [Fact]
    public void Parse_FlagsWinOverEnvironment()
    {
        var env = new Dictionary<string, string?>
        {
            ["EMULATOR_PORT"] = "7000",
            ["EMULATOR_API_KEY"] = "env-key",
            ["EMULATOR_FIXTURE"] = "/env/fixture.json",
            ["EMULATOR_EDGE_LATENCY_MS"] = "15",
        };

        var options = Program.Parse(["--port", "7100", "--api-key=flag-key"], name => env.GetValueOrDefault(name));

        Assert.Equal(7100, options.Port);
        Assert.Equal("flag-key", options.ApiKey);
        Assert.Equal("/env/fixture.json", options.FixturePath);
        Assert.Equal(TimeSpan.FromMilliseconds(15), options.EdgeLatency);
    }

    [Theory]
    [InlineData("--port", "70000")]
    [InlineData("--edge-latency-ms", "soon")]
    [InlineData("--colour", "blue")]
    public void Parse_BadArgument_ThrowsFormatException(string flag, string value)
    {
        Assert.Throws<FormatException>(() => Program.Parse([flag, value], _ => null));
    }
}

public sealed class InMemoryFixtureTests
{
    [Fact]
    public async Task StartAsync_InMemoryFixture_IsCopiedNotShared()
    {
        var fixture = new Sidecar.Core.Json.EntitlementsFile
        {
            Customers = [new Sidecar.Core.Json.FileCustomer { CustomerId = "solo", EntitlementsState = EntitlementStates.OneMetered("feature-api-calls", 10, 1) }],
        };
        await using var first = await EmulatorServer.StartAsync(new EmulatorOptions { Fixture = fixture });
        await using var second = await EmulatorServer.StartAsync(new EmulatorOptions { Fixture = fixture });

        first.ReportUsage(new AdminUsageRequest { CustomerId = "solo", FeatureId = "feature-api-calls", Value = 5 });

        Assert.Equal(6, first.GetCustomer("solo")!.EntitlementsV2[0].CurrentUsage);
        Assert.Equal(1, second.GetCustomer("solo")!.EntitlementsV2[0].CurrentUsage);
        Assert.Equal(1, fixture.Customers[0].EntitlementsState!.EntitlementsV2[0].CurrentUsage);
        Assert.NotEqual(first.BaseUrl, second.BaseUrl);
    }

    [Fact]
    public async Task StartAsync_DuplicateFixtureEntry_FailsWithClearMessage()
    {
        var fixture = new Sidecar.Core.Json.EntitlementsFile
        {
            Customers =
            [
                new Sidecar.Core.Json.FileCustomer { CustomerId = "twin", EntitlementsState = EntitlementStates.OneBoolean("a") },
                new Sidecar.Core.Json.FileCustomer { CustomerId = "twin", EntitlementsState = EntitlementStates.OneBoolean("b") },
            ],
        };

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => EmulatorServer.StartAsync(new EmulatorOptions { Fixture = fixture }));

        Assert.Contains("twin", error.Message, StringComparison.Ordinal);
    }
}

public sealed class LogTests
{
    [Fact]
    public void Log_EveryMessage_HasItsOwnEventId()
    {
        // A reused EventId makes two different messages indistinguishable to log filters and dashboards.
        var ids = typeof(Log).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .OfType<LoggerMessageAttribute>()
            .Select(a => a.EventId)
            .ToList();

        Assert.NotEmpty(ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }
}
