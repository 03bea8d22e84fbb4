using System.Security.Cryptography;

namespace Sidecar.Core.Model;

/// <summary>
/// Stigg's id shape (nanoid): 21 characters of the URL-safe alphabet, 126 random bits. Used for the SDK instance id
/// and for the measurement ids of usage acknowledged locally.
/// </summary>
public static class NanoId
{
    private const string Alphabet = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";

    public static string New()
    {
        Span<byte> bytes = stackalloc byte[21];
        RandomNumberGenerator.Fill(bytes);
        Span<char> chars = stackalloc char[21];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphabet[bytes[i] & 63];
        }

        return new string(chars);
    }
}
