using System.Text;
using Sidecar.Host.Sources;

namespace Sidecar.Host.Tests;

/// <summary>
/// The customers scan (bracket matching instead of reading every token) must cut the array exactly where the reader
/// does, whatever the strings hold, and decline every layout it does not follow so the reader reads it instead.
/// </summary>
public sealed class FileScanTests
{
    private const string Tricky =
        """{"customerId":"br}ck]ts{[","resourceId":"q\"uo\\te\\","entitlementsState":{"entitlementsV2":[{"feature":{"refId":"f\u007d\\\"}","displayName":"é ✓ 🎉 }"}},{"enumValues":["]","[","{}",""]}]},"x":[[[]],{"y":{"z":[{}]}}]}""";

    public static TheoryData<string> PlainFiles() => new()
    {
        """{"customers":[]}""",
        """ { "customers" : [ ] } """,
        "{\"customers\":[" + Tricky + "," + Tricky + "]}",
        "{\"customers\":[\r\n\t" + Tricky + " ,\r\n\t" + Tricky + "\r\n]}\r\n",
        // Other properties before the array are read by the reader, which then hands the array to the scan.
        """{"version":{"a":[1,"]"]},"customers":[{"customerId":"a"},{"customerId":"b"}]}""",
        // Customers larger than the read buffer, and many small ones across its boundaries.
        "{\"customers\":[" + string.Join(",", Enumerable.Range(0, 3).Select(i => Customer(i, 1_500_000))) + "]}",
        "{\"customers\":[" + string.Join(",\n", Enumerable.Range(0, 20_000).Select(i => Customer(i, 100))) + "]}",
    };

    [Theory]
    [MemberData(nameof(PlainFiles))]
    public void Read_Scanning_CutsTheCustomersAsTheReaderDoes(string text)
    {
        var scanned = Customers(text, scan: true);
        var read = Customers(text, scan: false);

        Assert.Equal(read, scanned);
    }

    [Theory]
    [InlineData("""{"customers":[{"customerId":"a"} /* c */ ,{"customerId":"b"}]}""")]
    [InlineData("""{"customers":[{"customerId":"a"},{"customerId":"b"},]}""")]
    [InlineData("{\"customers\":[{\"customerId\":\"a\", \"x\": 1 // c\n}]}")]
    [InlineData("""{"customers":[{"customerId":"a"}],"version":1}""")]
    [InlineData("""{"customers":[{"customerId":"a"}]} // end""")]
    public void Read_LayoutTheScanDoesNotFollow_DeclinedForTheReader(string text)
    {
        Assert.Throws<ScanDeclinedException>(() => Customers(text, scan: true));

        Assert.StartsWith("{\"customerId\":\"a\"", Customers(text, scan: false)[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"customers":[{"customerId":"a","x":[}]}""")]
    [InlineData("""{"customers":[{"customerId":"a","x":{]}]}""")]
    [InlineData("""{"customers":[{"customerId":"a","x":"unterminated}]}""")]
    public void Read_BracketsThatDoNotMatch_NeverHandedOver(string text)
    {
        var handed = new List<string>();

        Assert.ThrowsAny<Exception>(() => Read(text, scan: true, handed));
        Assert.Empty(handed);
    }

    [Fact]
    public void Read_Scanning_StringsAndEscapesAtEveryOffsetOfABlock_CutAsTheReaderDoes()
    {
        // The scan takes 64 bytes at a time: strings, escapes and brackets must be found wherever they fall in a block,
        // including a backslash as a block's last byte and a string running across blocks.
        var random = new Random(20261201);
        var customers = Enumerable.Range(0, 3_000).Select(i => RandomCustomer(random, i));
        var text = "{\"customers\":[" + string.Join(",", customers) + "]}";

        var scanned = Customers(text, scan: true);

        Assert.Equal(3_000, scanned.Count);
        Assert.Equal(Customers(text, scan: false), scanned);
    }

    private static string RandomCustomer(Random random, int i)
    {
        string[] pieces = ["a", "é", "🎉", "{", "}", "[", "]", "/", " ", "\\\"", "\\\\", "\\/", "\\u005c", "\\u0022", "\\n"];
        string Text() => string.Concat(Enumerable.Range(0, random.Next(0, 90)).Select(_ => pieces[random.Next(pieces.Length)]));
        var nested = string.Concat(Enumerable.Repeat("[{\"k\":", random.Next(0, 4)));
        var closing = string.Concat(Enumerable.Repeat("}]", nested.Length / 6));
        return "{\"customerId\":\"c" + i + Text() + "\",\"entitlementsState\":{\"entitlementsV2\":[{\"feature\":{\"refId\":\"" + Text()
            + "\"}}]},\"x\":" + nested + "\"" + Text() + "\"" + closing + "}";
    }

    private static string Customer(int i, int padding) =>
        $$"""{"customerId":"c{{i}}","entitlementsState":{"entitlementsV2":[]},"pad":"{{new string('}', padding)}}"}""";

    private static List<string> Customers(string text, bool scan)
    {
        var handed = new List<string>();
        Read(text, scan, handed);
        return handed;
    }

    private static void Read(string text, bool scan, List<string> handed)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        EntitlementsFileReader.Read(stream, (index, json) =>
        {
            Assert.Equal(handed.Count, index);
            handed.Add(Encoding.UTF8.GetString(json));
        }, scan);
    }
}
