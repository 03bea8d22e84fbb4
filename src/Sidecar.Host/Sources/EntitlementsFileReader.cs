using System.Numerics;
using System.Runtime.Intrinsics;
using System.Text.Json;

namespace Sidecar.Host.Sources;

/// <summary>Takes one customer of the file: its index in the array and its JSON object, whole (valid only during the call).</summary>
internal delegate void CustomerJson(int index, ReadOnlySpan<byte> json);

/// <summary>
/// Streams an entitlements file (<c>{"customers":[...]}</c>) one customer at a time, so a large file is never held
/// as one document: each customer's JSON object is handed over whole, to be parsed (by <see cref="FileCustomerParser"/>,
/// or the source-generated <see cref="FileCustomer"/> contract the whole-file read uses) where the caller likes —
/// on other threads. It takes the plain shape only (one <c>customers</c> array of
/// objects, other root properties skipped); anything else — JSON null at the root or in the array, a repeated
/// <c>customers</c> — throws <see cref="UnusualShapeException"/>, and the caller reads the file whole, which decides it
/// exactly as before.
/// </summary>
internal static class EntitlementsFileReader
{
    private const int InitialBufferBytes = 1 << 20;

    // The reader settings CoreJsonContext's options imply (comments skipped, trailing commas allowed, depth 64).
    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private enum Phase
    {
        BeforeRoot,
        InRoot,
        InCustomers,
        AfterRoot,

        // Scanning the customers array without the reader (see Scan).
        ScanFirst,
        ScanNext,
        ScanSeparator,
        ScanEndOfRoot,
        ScanEndOfInput,
    }

    /// <summary>Calls <paramref name="onCustomer"/> with each customer's index in the array and its JSON.</summary>
    /// <param name="stream">The file.</param>
    /// <param name="onCustomer">Takes each customer in file order.</param>
    /// <param name="scanCustomers">
    /// Finds where each customer ends by matching brackets outside strings instead of reading every token (the workers
    /// read them all anyway), for the plain layout only: customers separated by commas and whitespace, the array last in
    /// the root. Anything else there (a comment, a trailing comma, another root property after the array) throws
    /// <see cref="ScanDeclinedException"/>: read the file again without it.
    /// </param>
    public static void Read(Stream stream, CustomerJson onCustomer, bool scanCustomers = false)
    {
        var buffer = new byte[InitialBufferBytes];
        int start = 0, end = 0;
        var final = false;
        var cursor = new Cursor(new JsonReaderState(ReaderOptions));
        while (true)
        {
            if (!final)
            {
                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }

                if (end == buffer.Length)
                {
                    // One value larger than the buffer (a huge customer): grow until it fits.
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                var read = stream.Read(buffer, end, buffer.Length - end);
                if (read == 0)
                {
                    final = true;
                }

                end += read;
            }

            var data = buffer.AsSpan(start, end - start);
            bool done;
            if (cursor.Phase >= Phase.ScanFirst)
            {
                done = Scan(data, final, ref cursor, onCustomer, out var consumed);
                start += consumed;
            }
            else
            {
                var reader = new Utf8JsonReader(data, final, cursor.State);
                done = Advance(ref reader, data, ref cursor, onCustomer, scanCustomers);
                start += (int)reader.BytesConsumed;
                cursor.State = reader.CurrentState;
                if (cursor.Phase == Phase.ScanFirst)
                {
                    continue; // the scan starts on what is left of this input
                }
            }

            if (done)
            {
                return;
            }

            if (final)
            {
                // The reader throws on truncated input; reaching here means a shape this reader does not follow.
                throw cursor.Phase >= Phase.ScanFirst
                    ? new ScanDeclinedException()
                    : new UnusualShapeException("the input ended before the root object");
            }
        }
    }

    /// <summary>Reads whole tokens and values from <paramref name="reader"/>; false when it needs more input.</summary>
    private static bool Advance(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, ref Cursor cursor, CustomerJson onCustomer, bool scanCustomers)
    {
        while (true)
        {
            // Every step starts from a checkpoint: a value cut by the end of the buffer is read again, whole, after a refill.
            var checkpoint = reader;
            if (!reader.Read())
            {
                reader = checkpoint;
                return cursor.Phase == Phase.AfterRoot && reader.IsFinalBlock;
            }

            switch (cursor.Phase)
            {
                case Phase.BeforeRoot:
                    cursor.Phase = reader.TokenType == JsonTokenType.StartObject
                        ? Phase.InRoot
                        : throw new UnusualShapeException("the root is not an object");
                    break;

                case Phase.InRoot when reader.TokenType == JsonTokenType.EndObject:
                    cursor.Phase = Phase.AfterRoot;
                    break;

                case Phase.InRoot when reader.ValueTextEquals("customers"u8):
                    if (cursor.SawCustomers)
                    {
                        throw new UnusualShapeException("customers is given twice");
                    }

                    if (!reader.Read())
                    {
                        reader = checkpoint;
                        return false;
                    }

                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw new UnusualShapeException("customers is not an array");
                    }

                    cursor.SawCustomers = true;
                    if (scanCustomers)
                    {
                        // The reader is done with: the scan takes over from here, after a refill.
                        cursor.Phase = Phase.ScanFirst;
                        return false;
                    }

                    cursor.Phase = Phase.InCustomers;
                    break;

                case Phase.InRoot:
                    // Another root property: skipped, as the serializer skips members it does not map.
                    if (!reader.TrySkip())
                    {
                        reader = checkpoint;
                        return false;
                    }

                    break;

                case Phase.InCustomers when reader.TokenType == JsonTokenType.EndArray:
                    cursor.Phase = Phase.InRoot;
                    break;

                case Phase.InCustomers when reader.TokenType == JsonTokenType.StartObject:
                    var objectStart = (int)reader.TokenStartIndex;
                    if (!reader.TrySkip())
                    {
                        reader = checkpoint;
                        return false;
                    }

                    // The whole object is in the buffer now: hand over exactly its bytes.
                    onCustomer(cursor.Index++, data[objectStart..(int)reader.BytesConsumed]);
                    break;

                case Phase.InCustomers:
                    throw new UnusualShapeException("a customers entry is not an object");

                default:
                    throw new UnusualShapeException("content after the root object");
            }
        }
    }

    /// <summary>
    /// Hands over the customers of the array from <paramref name="data"/>'s start on; false when it needs more input
    /// (<paramref name="consumed"/> is then where to resume: never inside a customer). Each customer's extent is found by
    /// matching brackets outside strings: exact for valid JSON; a worker's reader then reads every token of it, so
    /// invalid JSON is still an error there.
    /// </summary>
    private static bool Scan(ReadOnlySpan<byte> data, bool final, ref Cursor cursor, CustomerJson onCustomer, out int consumed)
    {
        consumed = 0;
        while (true)
        {
            var next = SkipWhitespace(data, consumed);
            if (next == data.Length)
            {
                if (cursor.Phase == Phase.ScanEndOfInput && final)
                {
                    consumed = next;
                    return true;
                }

                return false;
            }

            var b = data[next];
            switch (cursor.Phase)
            {
                case Phase.ScanFirst or Phase.ScanNext when b == (byte)'{':
                    var end = ObjectEnd(data, next);
                    if (end < 0)
                    {
                        return false;
                    }

                    onCustomer(cursor.Index++, data[next..end]);
                    consumed = end;
                    cursor.Phase = Phase.ScanSeparator;
                    break;
                case Phase.ScanFirst or Phase.ScanSeparator when b == (byte)']':
                    consumed = next + 1;
                    cursor.Phase = Phase.ScanEndOfRoot;
                    break;
                case Phase.ScanSeparator when b == (byte)',':
                    consumed = next + 1;
                    cursor.Phase = Phase.ScanNext;
                    break;
                case Phase.ScanEndOfRoot when b == (byte)'}':
                    consumed = next + 1;
                    cursor.Phase = Phase.ScanEndOfInput;
                    break;
                default:
                    throw new ScanDeclinedException();
            }
        }
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> data, int from)
    {
        var i = data[from..].IndexOfAnyExcept(" \t\r\n"u8);
        return i < 0 ? data.Length : from + i;
    }

    /// <summary>
    /// The index just past the object starting at <paramref name="start"/>, or -1 when it does not end within
    /// <paramref name="data"/>. Throws <see cref="ScanDeclinedException"/> on a comment, a closing bracket that does not
    /// match, or nesting deeper than the reader's limit.
    /// </summary>
    /// <remarks>
    /// Own code for speed: this is the one part of a file load no worker shares, and a library search per string
    /// (quotes come every few bytes) cost a second on a 1M-customer file. It takes 64 bytes at a time: masks of the
    /// quotes and the structural bytes, a prefix XOR of the quotes marking the bytes inside strings, then only the
    /// brackets outside strings are visited. A block holding a backslash (rare in entitlements) is walked byte by
    /// byte, as is the tail shorter than a block.
    /// </remarks>
    private static int ObjectEnd(ReadOnlySpan<byte> data, int start)
    {
        var scan = new BracketScan();
        var i = start;
        for (; i + 64 <= data.Length; i += 64)
        {
            var block = data.Slice(i, 64);
            var (quotes, backslashes, structure) = Masks(block);
            if (backslashes != 0 || scan.Escaped)
            {
                if (scan.Walk(block) is var atBlock and >= 0)
                {
                    return i + atBlock;
                }

                continue;
            }

            // Bit k: the byte is inside a string (the opening quote included, the closing one not).
            var inside = PrefixXor(quotes) ^ (scan.InString ? ulong.MaxValue : 0);
            scan.InString = (long)inside < 0;
            for (var outside = structure & ~inside; outside != 0; outside &= outside - 1)
            {
                var at = BitOperations.TrailingZeroCount(outside);
                if (scan.Bracket(block[at]))
                {
                    return i + at + 1;
                }
            }
        }

        return scan.Walk(data[i..]) is var atTail and >= 0 ? i + atTail : -1;
    }

    /// <summary>Bit k of each mask: byte k of the 64 is a quote; a backslash; a bracket or a slash.</summary>
    private static (ulong Quotes, ulong Backslashes, ulong Structure) Masks(ReadOnlySpan<byte> block)
    {
        ulong quotes = 0, backslashes = 0, structure = 0;
        for (var part = 0; part < 4; part++)
        {
            var v = Vector128.Create(block.Slice(part * 16, 16));
            var shift = part * 16;
            quotes |= (ulong)Vector128.Equals(v, Vector128.Create((byte)'"')).ExtractMostSignificantBits() << shift;
            backslashes |= (ulong)Vector128.Equals(v, Vector128.Create((byte)'\\')).ExtractMostSignificantBits() << shift;

            var structural = Vector128.Equals(v, Vector128.Create((byte)'{')) | Vector128.Equals(v, Vector128.Create((byte)'}'))
                | Vector128.Equals(v, Vector128.Create((byte)'[')) | Vector128.Equals(v, Vector128.Create((byte)']'))
                | Vector128.Equals(v, Vector128.Create((byte)'/'));
            structure |= (ulong)structural.ExtractMostSignificantBits() << shift;
        }

        return (quotes, backslashes, structure);
    }

    /// <summary>Bit k of the result is the XOR of bits 0..k of <paramref name="x"/>.</summary>
    private static ulong PrefixXor(ulong x)
    {
        x ^= x << 1;
        x ^= x << 2;
        x ^= x << 4;
        x ^= x << 8;
        x ^= x << 16;
        x ^= x << 32;
        return x;
    }

    /// <summary>Where the bracket matching is between blocks.</summary>
    private struct BracketScan
    {
        // One bit a level, set for an array: deep enough for the reader's limit of 64 (the customer is at depth 2).
        private ulong _arrays;
        private int _depth;
        public bool InString;
        public bool Escaped;

        /// <summary>Takes a bracket or slash outside strings; true when it closed the object.</summary>
        public bool Bracket(byte b)
        {
            switch (b)
            {
                case (byte)'{' or (byte)'[' when _depth < 62:
                    _arrays = (_arrays << 1) | (b == (byte)'[' ? 1UL : 0UL);
                    _depth++;
                    return false;
                case (byte)'}' or (byte)']' when _depth > 0 && ((_arrays & 1) == 1) == (b == (byte)']'):
                    _arrays >>= 1;
                    return --_depth == 0;
                default:
                    throw new ScanDeclinedException();
            }
        }

        /// <summary>Byte by byte: the index just past the object's end within <paramref name="bytes"/>, or -1.</summary>
        public int Walk(ReadOnlySpan<byte> bytes)
        {
            for (var k = 0; k < bytes.Length; k++)
            {
                var b = bytes[k];
                if (InString)
                {
                    if (Escaped)
                    {
                        Escaped = false; // an escape takes the byte after the backslash with it
                    }
                    else if (b == (byte)'\\')
                    {
                        Escaped = true;
                    }
                    else if (b == (byte)'"')
                    {
                        InString = false;
                    }
                }
                else if (b == (byte)'"')
                {
                    InString = true;
                }
                else if (b is (byte)'{' or (byte)'}' or (byte)'[' or (byte)']' or (byte)'/' && Bracket(b))
                {
                    return k + 1;
                }
            }

            return -1;
        }
    }

    private struct Cursor(JsonReaderState state)
    {
        public JsonReaderState State = state;
        public Phase Phase;
        public bool SawCustomers;
        public int Index;
    }
}

/// <summary>The customers array is not laid out plainly enough to scan; read it token by token.</summary>
internal sealed class ScanDeclinedException() : Exception("the customers array is not laid out plainly");

/// <summary>The file is not in the shape the streaming reader follows; the whole-file read decides it.</summary>
internal sealed class UnusualShapeException(string message) : Exception(message);
