using Google.Protobuf.Reflection;
using Stigg.Sidecar.V1;

namespace Sidecar.Host.Tests;

/// <summary>The compiled contract matches the facts of Stigg's descriptor (shared/contract/stigg-sidecar-v1.md).</summary>
public sealed class ContractTests
{
    private static readonly FileDescriptor File = SidecarReflection.Descriptor;

    [Fact]
    public void File_NameAndPackage_AsStiggDeclaresThem()
    {
        Assert.Equal("stigg/sidecar/v1/sidecar.proto", File.Name);
        Assert.Equal("stigg.sidecar.v1", File.Package);
        Assert.Equal(["google/protobuf/empty.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"], File.Dependencies.Select(d => d.Name));
    }

    [Fact]
    public void Service_TwelveUnaryMethodsInOrder()
    {
        var service = Assert.Single(File.Services);
        Assert.Equal("stigg.sidecar.v1.SidecarService", service.FullName);
        Assert.Equal(
            ["GetEntitlements", "GetEntitlement", "GetBooleanEntitlement", "GetNumericEntitlement", "GetMeteredEntitlement", "GetEnumEntitlement",
             "ReportUsage", "ReportEvents", "ReloadEntitlements", "ReportUsageBulk", "GetEntitlementV2", "GetEntitlementsStateV2"],
            service.Methods.Select(m => m.Name));
        Assert.All(service.Methods, m => Assert.False(m.IsClientStreaming || m.IsServerStreaming));
        Assert.Equal("google.protobuf.Empty", service.FindMethodByName("ReportEvents").OutputType.FullName);
    }

    [Fact]
    public void Messages_CountsOfMessagesFieldsAndEnums()
    {
        Assert.Equal(48, File.MessageTypes.Count);
        Assert.Equal(177, File.MessageTypes.Sum(m => m.Fields.InDeclarationOrder().Count));
        Assert.Equal(3, File.MessageTypes.Sum(m => m.NestedTypes.Count(n => n.GetOptions()?.MapEntry == true)));
        Assert.Equal(["AccessDeniedReason", "FeatureType", "MeterType", "EntitlementResetPeriod", "UsageUpdateBehavior"], File.EnumTypes.Select(e => e.Name));
        Assert.Equal(15, File.EnumTypes[0].Values.Count);
    }

    [Theory]
    [InlineData("MeteredEntitlement", "next_reset_date", 10, true)]
    [InlineData("MeteredEntitlement", "has_soft_limit", 14, true)]
    [InlineData("CreditEntitlement", "has_soft_limit", 6, false)]
    [InlineData("GetEntitlementV2Request", "currency_id", 4, true)]
    [InlineData("ReportUsageRequest", "update_behavior", 5, true)]
    [InlineData("EntitlementCurrency", "additional_meta_data", 6, true)]
    [InlineData("GetEntitlementsResponse", "access_denied_reason", 2, true)]
    public void Fields_NumberAndPresence(string message, string field, int number, bool explicitPresence)
    {
        var descriptor = File.MessageTypes.Single(m => m.Name == message).FindFieldByName(field);

        Assert.Equal(number, descriptor.FieldNumber);
        Assert.Equal(explicitPresence, descriptor.HasPresence);
    }

    [Fact]
    public void Oneofs_RealGroupsAsDeclared()
    {
        string[] Real(string message) => [.. File.MessageTypes.Single(m => m.Name == message).RealOneofCount > 0
            ? File.MessageTypes.Single(m => m.Name == message).Oneofs.Where(o => !o.IsSynthetic).Select(o => o.Name) : []];

        Assert.Equal(["entitlement"], Real("Entitlement"));
        Assert.Equal(["entitlement"], Real("EntitlementV2"));
        Assert.Equal(["entitlement"], Real("GetEntitlementResponse"));
        Assert.Equal(["fallback"], Real("EntitlementFallback"));
        Assert.Equal(["value"], Real("EventDimensionValue"));
    }

    [Fact]
    public void FileOptions_CsharpNamespace()
    {
        Assert.Equal("Stigg.Sidecar.V1", File.GetOptions().CsharpNamespace);
        Assert.Equal("io.stigg.sidecar.proto.v1", File.GetOptions().JavaPackage);
        Assert.True(File.MessageTypes.Single(m => m.Name == "MeteredEntitlement").FindFieldByName("next_reset_date").GetOptions().Deprecated);
    }
}
