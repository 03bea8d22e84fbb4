namespace Sidecar.Emulator.Internal;

/// <summary>The GraphQL operations the emulator answers over HTTP.</summary>
internal enum GraphQlOperation : byte
{
    GetEntitlementsState = 0,
    ReportUsage = 1,
    ReportUsageBulk = 2,
    ReportEvent = 3,
    GetSdkConfiguration = 4,
}

/// <summary>
/// Just enough of a GraphQL document reader to pick the operation: by <c>operationName</c>, else by the name after
/// <c>query</c>/<c>mutation</c>/<c>subscription</c>, else by the first root field. Clients name their documents
/// differently across SDK versions, but the root field is fixed by the schema.
/// </summary>
internal static class GraphQlDocument
{
    public static GraphQlOperation? ResolveOperation(string? operationName, string? query)
    {
        if (ByName(operationName) is { } named)
        {
            return named;
        }

        if (query is null)
        {
            return null;
        }

        if (ByName(DeclaredName(query)) is { } declared)
        {
            return declared;
        }

        return RootField(query) switch
        {
            "entitlementsState" => GraphQlOperation.GetEntitlementsState,
            "reportUsage" => GraphQlOperation.ReportUsage,
            "reportUsageBulk" => GraphQlOperation.ReportUsageBulk,
            "reportEvent" => GraphQlOperation.ReportEvent,
            "sdkConfiguration" => GraphQlOperation.GetSdkConfiguration,
            _ => null,
        };
    }

    public static SubscriptionKind? ResolveSubscription(string? operationName, string query)
    {
        if (SubscriptionByName(operationName) is { } named)
        {
            return named;
        }

        if (SubscriptionByName(DeclaredName(query)) is { } declared)
        {
            return declared;
        }

        return RootField(query) switch
        {
            "entitlementsUpdatedV2" => SubscriptionKind.EntitlementsUpdated,
            "usageUpdatedV2" => SubscriptionKind.UsageUpdated,
            "packagePublished" => SubscriptionKind.PackagePublished,
            _ => null,
        };
    }

    private static GraphQlOperation? ByName(string? name) => name switch
    {
        "GetEntitlementsState" => GraphQlOperation.GetEntitlementsState,
        "ReportUsage" => GraphQlOperation.ReportUsage,
        "ReportUsageBulk" => GraphQlOperation.ReportUsageBulk,
        "ReportEvent" => GraphQlOperation.ReportEvent,
        "GetSdkConfiguration" => GraphQlOperation.GetSdkConfiguration,
        _ => null,
    };

    private static SubscriptionKind? SubscriptionByName(string? name) => name switch
    {
        "OnEntitlementsUpdatedV2" => SubscriptionKind.EntitlementsUpdated,
        "OnUsageUpdatedV2" => SubscriptionKind.UsageUpdated,
        "OnPackagePublished" => SubscriptionKind.PackagePublished,
        _ => null,
    };

    /// <summary>The name in <c>query Name(...) {</c>, or null for an anonymous operation.</summary>
    public static string? DeclaredName(string query)
    {
        var i = SkipIgnored(query, 0);
        var keyword = ReadName(query, ref i);
        if (keyword is not ("query" or "mutation" or "subscription"))
        {
            return null;
        }

        i = SkipIgnored(query, i);
        return ReadName(query, ref i);
    }

    /// <summary>The first field of the first selection set (the name, not an alias).</summary>
    public static string? RootField(string query)
    {
        var i = 0;
        while (i < query.Length)
        {
            i = SkipIgnored(query, i);
            if (i >= query.Length)
            {
                return null;
            }

            if (query[i] == '"')
            {
                i = SkipString(query, i);
                continue;
            }

            if (query[i] != '{')
            {
                i++;
                continue;
            }

            i = SkipIgnored(query, i + 1);
            var name = ReadName(query, ref i);
            i = SkipIgnored(query, i);
            if (name is not null && i < query.Length && query[i] == ':')
            {
                i = SkipIgnored(query, i + 1);
                name = ReadName(query, ref i);
            }

            return name;
        }

        return null;
    }

    private static int SkipIgnored(string text, int i)
    {
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '#')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }
            }
            else if (char.IsWhiteSpace(c) || c == ',' || c == '\uFEFF')
            {
                i++;
            }
            else
            {
                break;
            }
        }

        return i;
    }

    private static int SkipString(string text, int i)
    {
        // Block strings and plain strings; variables' default values are the only place they appear before '{'.
        if (text.AsSpan(i).StartsWith("\"\"\"", StringComparison.Ordinal))
        {
            var end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
            return end < 0 ? text.Length : end + 3;
        }

        for (i++; i < text.Length; i++)
        {
            if (text[i] == '\\')
            {
                i++;
            }
            else if (text[i] == '"')
            {
                return i + 1;
            }
        }

        return text.Length;
    }

    private static string? ReadName(string text, ref int i)
    {
        var start = i;
        while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
        {
            i++;
        }

        return i > start && !char.IsAsciiDigit(text[start]) ? text[start..i] : null;
    }
}
