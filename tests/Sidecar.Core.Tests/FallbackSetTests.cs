using Sidecar.Core.Evaluation;

namespace Sidecar.Core.Tests;

public class FallbackSetTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Parse_NothingConfigured_ReturnsEmpty(string? json)
    {
        var set = FallbackSet.Parse(json);

        Assert.Same(FallbackSet.Empty, set);
        Assert.Equal(0, set.Count);
        Assert.False(set.TryGet("anything", out _));
    }

    [Fact]
    public void Parse_AllShapes_ReadsEveryField()
    {
        var set = FallbackSet.Parse("""
            {
              "feature-sso": { "hasAccess": true },
              "feature-seats": { "hasAccess": true, "value": 5, "isUnlimited": false },
              "feature-api-calls": { "hasAccess": false, "usageLimit": 1000, "isUnlimited": true },
              "feature-region": { "hasAccess": true, "enumValues": ["us-east-1", "eu-west-1"] }
            }
            """);

        Assert.Equal(4, set.Count);
        Assert.True(set.TryGet("feature-sso", out var sso));
        Assert.True(sso.HasAccess);
        Assert.Null(sso.Value);

        Assert.True(set.TryGet("feature-seats", out var seats));
        Assert.Equal(5, seats.Value);
        Assert.False(seats.IsUnlimited);

        Assert.True(set.TryGet("feature-api-calls", out var api));
        Assert.False(api.HasAccess);
        Assert.Equal(1000, api.UsageLimit);
        Assert.True(api.IsUnlimited);

        Assert.True(set.TryGet("feature-region", out var region));
        Assert.Equal(["us-east-1", "eu-west-1"], region.EnumValues);

        Assert.False(set.TryGet("feature-other", out _));
    }

    [Fact]
    public void Parse_Entries_KeepDocumentOrder()
    {
        var set = FallbackSet.Parse("""{"z": {"hasAccess": true}, "a": {"hasAccess": false}, "m": {"hasAccess": true}}""");

        Assert.Equal(["z", "a", "m"], set.Entries.Select(e => e.Key));
    }

    [Fact]
    public void Parse_EmptyObject_HasNoEntries()
    {
        Assert.Equal(0, FallbackSet.Parse("{}").Count);
    }

    [Fact]
    public void Parse_FeatureIdsAreCaseSensitive()
    {
        var set = FallbackSet.Parse("""{"Feature-A": {"hasAccess": true}}""");

        Assert.False(set.TryGet("feature-a", out _));
        Assert.True(set.TryGet("Feature-A", out _));
    }

    [Theory]
    [InlineData("{not json", "invalid JSON")]
    [InlineData("{\"f\": {\"hasAccess\": true}", "invalid JSON")]
    [InlineData("[{\"hasAccess\": true}]", "invalid JSON")]
    [InlineData("{\"f\": true}", "invalid JSON")]
    [InlineData("{\"f\": {\"hasAccess\": \"yes\"}}", "invalid JSON")]
    [InlineData("{\"f\": {\"hasAccess\": true, \"value\": \"many\"}}", "invalid JSON")]
    [InlineData("null", "got null")]
    [InlineData("{\"f\": null}", "'f' is null")]
    [InlineData("{\"\": {\"hasAccess\": true}}", "feature id is empty")]
    public void Parse_Malformed_ThrowsFormatExceptionWithOneLineReason(string json, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => FallbackSet.Parse(json));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain('\r', ex.Message);
    }

    [Fact]
    public void Parse_MultiLineJsonError_MessageIsStillOneLine()
    {
        var ex = Assert.Throws<FormatException>(() => FallbackSet.Parse("{\n  \"f\": {\n    \"hasAccess\": tru\n  }\n}"));

        Assert.DoesNotContain('\n', ex.Message);
        Assert.Contains("LineNumber: 2", ex.Message, StringComparison.Ordinal);
    }
}
