using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace Sidecar.LoadClient;

/// <summary>
/// A minimal HTTP/2 client connection (h2c, prior knowledge) for unary gRPC calls with pre-encoded frames: one
/// HEADERS frame (a pre-built HPACK block of literals) and one DATA frame per call, a reader thread that completes
/// calls as their END_STREAM arrives. It does what h2load does on the wire and little else, so the latency it records
/// is the server's plus the loopback, not a client library's (HttpClient adds ~100 µs per call on a busy 2-core box).
/// </summary>
/// <remarks>
/// Response headers are not decoded (no HPACK decoder): a call succeeded when its answer carried a DATA frame, which
/// is how a unary gRPC success looks; an error is a trailers-only answer (HEADERS with END_STREAM, no DATA) or a
/// RST_STREAM. The <c>check</c> command uses HttpClient and reads grpc-status properly; <c>load</c> runs it first.
/// </remarks>
internal sealed class RawH2Connection : IDisposable
{
    private const int FrameHeaderLength = 9;
    private const byte Data = 0, Headers = 1, RstStream = 3, Settings = 4, Ping = 6, GoAway = 7, WindowUpdate = 8;
    private const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8;
    private const int ReceiveWindow = 16 * 1024 * 1024;

    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Lock _writeLock = new();
    private readonly ConcurrentDictionary<int, Pending> _pending = new();
    private readonly Dictionary<string, byte[]> _headerBlocks = new(StringComparer.Ordinal);
    private readonly string _authority;
    private readonly Thread _reader;
    private readonly TaskCompletionSource _settingsReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _streamSlots = new(100, int.MaxValue);
    private readonly Queue<byte[]> _blocked = new();
    private long _sendWindow = 65_535;
    private int _nextStreamId = 1;
    private int _unacknowledgedBytes;
    private volatile Exception? _failure;

    private RawH2Connection(Socket socket, string authority)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _authority = authority;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "h2-reader" };
    }

    public static async Task<RawH2Connection> ConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(uri.Host, uri.Port, cancellationToken).ConfigureAwait(false);
        var connection = new RawH2Connection(socket, uri.Authority);
        connection.Start();
        await connection._settingsReceived.Task.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        return connection;
    }

    /// <summary>
    /// Sends one call and completes when its answer has ended. <paramref name="body"/>, when given, receives the first
    /// bytes of the answer's DATA (for checking what came back).
    /// </summary>
    public async ValueTask<CallResult> CallAsync(Call call, byte[]? body, CancellationToken cancellationToken)
    {
        if (_failure is { } failure)
        {
            throw new IOException("the HTTP/2 connection failed", failure);
        }

        await _streamSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        var pending = new Pending(body);
        try
        {
            Send(call, pending);
            using (cancellationToken.UnsafeRegister(static p => ((Pending)p!).Completion.TrySetCanceled(), pending))
            {
                return await pending.Completion.Task.ConfigureAwait(false);
            }
        }
        finally
        {
            _streamSlots.Release();
        }
    }

    public void Dispose()
    {
        _failure ??= new ObjectDisposedException(nameof(RawH2Connection));
        _stream.Dispose();
        FailAll(_failure);
    }

    private void Start()
    {
        // Preface, then our SETTINGS (no server push, a large stream window) and a large connection window.
        var hello = new byte[Preface.Length + FrameHeaderLength + 12 + FrameHeaderLength + 4];
        Preface.CopyTo(hello, 0);
        var at = Preface.Length;
        WriteFrameHeader(hello.AsSpan(at), 12, Settings, 0, 0);
        at += FrameHeaderLength;
        WriteSetting(hello.AsSpan(at), 0x2, 0); // SETTINGS_ENABLE_PUSH
        WriteSetting(hello.AsSpan(at + 6), 0x4, ReceiveWindow); // SETTINGS_INITIAL_WINDOW_SIZE
        at += 12;
        WriteFrameHeader(hello.AsSpan(at), 4, WindowUpdate, 0, 0);
        BinaryPrimitives.WriteUInt32BigEndian(hello.AsSpan(at + FrameHeaderLength), ReceiveWindow - 65_535);
        _stream.Write(hello);
        _reader.Start();
    }

    private void Send(Call call, Pending pending)
    {
        var block = HeaderBlock(call.Path);
        var headers = new byte[FrameHeaderLength + block.Length];
        var data = new byte[FrameHeaderLength + call.Frame.Length];
        lock (_writeLock)
        {
            var streamId = _nextStreamId;
            _nextStreamId += 2;
            _pending[streamId] = pending;
            WriteFrameHeader(headers, block.Length, Headers, EndHeaders, streamId);
            block.CopyTo(headers, FrameHeaderLength);
            WriteFrameHeader(data, call.Frame.Length, Data, EndStream, streamId);
            call.Frame.CopyTo(data, FrameHeaderLength);

            // HEADERS go out at once (streams must open in id order); DATA waits for the server's connection window
            // when it is exhausted, and is flushed by the reader when a WINDOW_UPDATE arrives (never a blocking wait:
            // this may run on the reader thread itself).
            _stream.Write(headers);
            if (_blocked.Count == 0 && _sendWindow >= call.Frame.Length)
            {
                _sendWindow -= call.Frame.Length;
                _stream.Write(data);
            }
            else
            {
                _blocked.Enqueue(data);
            }
        }
    }

    private void OnWindowUpdate(uint increment)
    {
        lock (_writeLock)
        {
            _sendWindow += increment;
            while (_blocked.TryPeek(out var data) && _sendWindow >= data.Length - FrameHeaderLength)
            {
                _blocked.Dequeue();
                _sendWindow -= data.Length - FrameHeaderLength;
                _stream.Write(data);
            }
        }
    }

    /// <summary>The request headers as HPACK literals without indexing (no Huffman), built once per path.</summary>
    private byte[] HeaderBlock(string path)
    {
        lock (_headerBlocks)
        {
            if (_headerBlocks.TryGetValue(path, out var cached))
            {
                return cached;
            }

            var block = new List<byte>
            {
                0x83, // :method: POST (static table 3)
                0x86, // :scheme: http (static table 6)
            };
            Literal(block, 4, path); // :path
            Literal(block, 1, _authority); // :authority
            Literal(block, 31, "application/grpc"); // content-type
            block.Add(0x00); // te: trailers, literal name
            String(block, "te");
            String(block, "trailers");
            var bytes = block.ToArray();
            _headerBlocks[path] = bytes;
            return bytes;
        }

        static void Literal(List<byte> block, int nameIndex, string value)
        {
            // Literal header field without indexing, indexed name: 0000xxxx with a 4-bit prefix integer.
            if (nameIndex < 15)
            {
                block.Add((byte)nameIndex);
            }
            else
            {
                block.Add(0x0F);
                block.Add((byte)(nameIndex - 15));
            }

            String(block, value);
        }

        static void String(List<byte> block, string value)
        {
            var bytes = Encoding.ASCII.GetBytes(value);
            if (bytes.Length >= 127)
            {
                throw new ArgumentException("header value too long for this encoder: " + value);
            }

            block.Add((byte)bytes.Length);
            block.AddRange(bytes);
        }
    }

    private void ReadLoop()
    {
        var header = new byte[FrameHeaderLength];
        var payload = new byte[64 * 1024];
        try
        {
            while (true)
            {
                _stream.ReadExactly(header);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = header[3];
                var flags = header[4];
                var streamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(5)) & 0x7FFF_FFFF);
                if (length > payload.Length)
                {
                    payload = new byte[length];
                }

                var body = payload.AsSpan(0, length);
                _stream.ReadExactly(body);
                switch (type)
                {
                    case Data:
                        OnData(streamId, flags, body);
                        break;
                    case Headers:
                        if ((flags & EndStream) != 0)
                        {
                            Complete(streamId);
                        }

                        break;
                    case RstStream:
                        if (_pending.TryRemove(streamId, out var reset))
                        {
                            reset.Completion.TrySetResult(new CallResult(-4, reset.DataBytes));
                        }

                        break;
                    case Settings:
                        if ((flags & Ack) == 0)
                        {
                            OnSettings(body);
                        }

                        break;
                    case Ping:
                        if ((flags & Ack) == 0)
                        {
                            WriteControl(Ping, Ack, 0, body);
                        }

                        break;
                    case WindowUpdate:
                        if (streamId == 0)
                        {
                            OnWindowUpdate(BinaryPrimitives.ReadUInt32BigEndian(body) & 0x7FFF_FFFF);
                        }

                        break;
                    case GoAway:
                        throw new IOException("the server sent GOAWAY");
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or EndOfStreamException)
        {
            _failure ??= ex;
            FailAll(_failure);
        }
    }

    private void OnData(int streamId, byte flags, Span<byte> body)
    {
        var data = body;
        if ((flags & Padded) != 0 && body.Length > 0)
        {
            data = body.Slice(1, body.Length - 1 - body[0]);
        }

        if (_pending.TryGetValue(streamId, out var pending))
        {
            if (pending.Body is { } target && pending.DataBytes < target.Length)
            {
                var n = Math.Min(data.Length, target.Length - pending.DataBytes);
                data[..n].CopyTo(target.AsSpan(pending.DataBytes));
            }

            pending.DataBytes += data.Length;
        }

        // Give the connection window back in large steps (stream windows are large enough for a unary answer).
        _unacknowledgedBytes += body.Length;
        if (_unacknowledgedBytes > ReceiveWindow / 4)
        {
            Span<byte> increment = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(increment, (uint)_unacknowledgedBytes);
            WriteControl(WindowUpdate, 0, 0, increment);
            _unacknowledgedBytes = 0;
        }

        if ((flags & EndStream) != 0)
        {
            Complete(streamId);
        }
    }

    private void OnSettings(Span<byte> body)
    {
        for (var i = 0; i + 6 <= body.Length; i += 6)
        {
            var id = BinaryPrimitives.ReadUInt16BigEndian(body[i..]);
            var value = BinaryPrimitives.ReadUInt32BigEndian(body[(i + 2)..]);
            if (id == 0x3) // SETTINGS_MAX_CONCURRENT_STREAMS: keep our in-flight calls within it
            {
                var limit = (int)Math.Min(value, 1_000_000);
                if (!_settingsReceived.Task.IsCompleted && limit > 100)
                {
                    _streamSlots.Release(limit - 100);
                }
            }
        }

        WriteControl(Settings, Ack, 0, []);
        _settingsReceived.TrySetResult();
    }

    private void Complete(int streamId)
    {
        if (_pending.TryRemove(streamId, out var pending))
        {
            // A unary success carries its message in DATA; a trailers-only answer is an error status.
            pending.Completion.TrySetResult(new CallResult(pending.DataBytes > 0 ? 0 : -1, pending.DataBytes));
        }
    }

    private void WriteControl(byte type, byte flags, int streamId, ReadOnlySpan<byte> body)
    {
        var frame = new byte[FrameHeaderLength + body.Length];
        WriteFrameHeader(frame, body.Length, type, flags, streamId);
        body.CopyTo(frame.AsSpan(FrameHeaderLength));
        lock (_writeLock)
        {
            _stream.Write(frame);
        }
    }

    private void FailAll(Exception failure)
    {
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var pending))
            {
                pending.Completion.TrySetException(new IOException("the HTTP/2 connection failed", failure));
            }
        }
    }

    private static void WriteFrameHeader(Span<byte> target, int length, byte type, byte flags, int streamId)
    {
        target[0] = (byte)(length >> 16);
        target[1] = (byte)(length >> 8);
        target[2] = (byte)length;
        target[3] = type;
        target[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(target[5..], (uint)streamId);
    }

    private static void WriteSetting(Span<byte> target, ushort id, uint value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(target, id);
        BinaryPrimitives.WriteUInt32BigEndian(target[2..], value);
    }

    private sealed class Pending(byte[]? body)
    {
        // Completed on the reader thread; the caller's continuation runs inline there (as an event loop would).
        public readonly TaskCompletionSource<CallResult> Completion = new();
        public readonly byte[]? Body = body;
        public int DataBytes;
    }
}
