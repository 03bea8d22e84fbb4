using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Emulator.Internal;

/// <summary>GraphQL <c>ReportUsageInput</c> / <c>ReportUsageBaseInput</c> (stigg-behaviour §8.1).</summary>
internal sealed class ReportUsageInput
{
    public string? CustomerId { get; set; }
    public string? FeatureId { get; set; }
    public double? Value { get; set; }
    public string? ResourceId { get; set; }
    public string? UpdateBehavior { get; set; }

    /// <summary>A DateTime; kept as sent because it does not change what the emulator stores.</summary>
    public JsonElement? CreatedAt { get; set; }
    public JsonElement? Dimensions { get; set; }
    public string? IdempotencyKey { get; set; }
}

internal sealed class ReportUsageBulkInput
{
    public List<ReportUsageInput>? Usages { get; set; }
}

/// <summary>One raw event of the <c>ReportEvent</c> mutation.</summary>
internal sealed class UsageEventInput
{
    public string? EventName { get; set; }
    public string? CustomerId { get; set; }
    public string? IdempotencyKey { get; set; }
    public string? ResourceId { get; set; }
    public JsonElement? Dimensions { get; set; }
    public JsonElement? Timestamp { get; set; }
}

internal sealed class UsageEventsInput
{
    public List<UsageEventInput>? UsageEvents { get; set; }
}

internal sealed record AdminError(string Error);

internal sealed record DroppedSockets(int Dropped);

internal sealed record CustomerEntryRef(string CustomerId, string? ResourceId);

/// <summary>Source-generated serializers for the emulator's own JSON (admin API and GraphQL inputs).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    NumberHandling = JsonNumberHandling.AllowReadingFromString,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(EmulatorFaults))]
[JsonSerializable(typeof(AdminUsageRequest))]
[JsonSerializable(typeof(PackagePublishRequest))]
[JsonSerializable(typeof(PackagePublished))]
[JsonSerializable(typeof(EmulatorCounters))]
[JsonSerializable(typeof(List<RecordedEvent>))]
[JsonSerializable(typeof(List<CustomerEntryRef>))]
[JsonSerializable(typeof(ReportUsageInput))]
[JsonSerializable(typeof(ReportUsageBulkInput))]
[JsonSerializable(typeof(UsageEventsInput))]
[JsonSerializable(typeof(AdminError))]
[JsonSerializable(typeof(DroppedSockets))]
internal sealed partial class EmulatorJsonContext : JsonSerializerContext;
