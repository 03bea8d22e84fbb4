using System.Security.Cryptography;

namespace Sidecar.Host.Sources;

/// <summary>Measurement ids for locally acknowledged usage, shaped like Stigg's: 21 URL-safe characters (nanoid).</summary>
internal static class MeasurementIds
{
    private const string Alphabet = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";

    public static string New()
    {
        Span<byte> random = stackalloc byte[21];
        RandomNumberGenerator.Fill(random);
        Span<char> chars = stackalloc char[21];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphabet[random[i] & 63];
        }

        return new string(chars);
    }
}
