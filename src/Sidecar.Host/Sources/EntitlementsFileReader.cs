using System.Text.Json;
using Sidecar.Core.Json;

namespace Sidecar.Host.Sources;

/// <summary>
/// Streams an entitlements file (<c>{"customers":[...]}</c>) one customer at a time, so a large file is never held
/// as one document: each customer is deserialized with the same source-generated <see cref="FileCustomer"/> contract
/// the whole-file read uses, handed over, and dropped. It takes the plain shape only (one <c>customers</c> array of
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
    }

    /// <summary>Calls <paramref name="onCustomer"/> with each customer's index in the array and its contents.</summary>
    /// <param name="stream">The file.</param>
    /// <param name="strings">Shares the repeated values between customers (see <see cref="FileCustomerParser.TryParse"/>).</param>
    /// <param name="onCustomer">Takes each customer in file order.</param>
    public static void Read(Stream stream, SnapshotInterner strings, Action<int, FileCustomer> onCustomer)
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
            var reader = new Utf8JsonReader(data, final, cursor.State);
            var done = Advance(ref reader, data, ref cursor, strings, onCustomer);
            start += (int)reader.BytesConsumed;
            cursor.State = reader.CurrentState;
            if (done)
            {
                return;
            }

            if (final)
            {
                // The reader throws on truncated input; reaching here means a shape this reader does not follow.
                throw new UnusualShapeException("the input ended before the root object");
            }
        }
    }

    /// <summary>Reads whole tokens and values from <paramref name="reader"/>; false when it needs more input.</summary>
    private static bool Advance(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, ref Cursor cursor, SnapshotInterner strings, Action<int, FileCustomer> onCustomer)
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

                    // The whole object is in the buffer now: deserialize exactly its bytes (no second scan for its end).
                    var objectEnd = (int)reader.BytesConsumed;
                    var json = data[objectStart..objectEnd];
                    var customer = FileCustomerParser.TryParse(json, strings) ?? JsonSerializer.Deserialize(json, CoreJsonContext.Default.FileCustomer)!;
                    onCustomer(cursor.Index++, customer);
                    break;

                case Phase.InCustomers:
                    throw new UnusualShapeException("a customers entry is not an object");

                default:
                    throw new UnusualShapeException("content after the root object");
            }
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

/// <summary>The file is not in the shape the streaming reader follows; the whole-file read decides it.</summary>
internal sealed class UnusualShapeException(string message) : Exception(message);
