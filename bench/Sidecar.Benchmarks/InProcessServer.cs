using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Abstractions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Sidecar.Benchmarks;

/// <summary>
/// An <see cref="IServer"/> without sockets, to measure what a gRPC call costs inside the process: the host starts it
/// with its application (hosting, middleware, routing, grpc-dotnet, our service) and <see cref="Call"/> runs one unary
/// request through it. As Kestrel does for an HTTP/2 stream, one reusable object carries the request's features and
/// keeps the host's context from call to call, so what is measured is the pipeline, not this server. One caller at a
/// time.
/// </summary>
internal sealed class InProcessServer(int localPort) : IServer
{
    private ICall? _call;

    private interface ICall
    {
        InProcessResponse Run(string path, ReadOnlyMemory<byte> frame);
    }

    public IFeatureCollection Features { get; } = new FeatureCollection();

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        _call = new Http2Stream<TContext>(application, localPort);
        return Task.CompletedTask;
    }

    /// <summary>POSTs <paramref name="frame"/> (one gRPC message with its 5-byte prefix) to <paramref name="path"/>.</summary>
    public InProcessResponse Call(string path, ReadOnlyMemory<byte> frame) =>
        (_call ?? throw new InvalidOperationException("the host has not started the server")).Run(path, frame);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
    }

    /// <summary>
    /// One HTTP/2 stream's worth of features. What the pipeline adds during a call (the endpoint, the request's
    /// services) is dropped after it, as Kestrel resets its stream's features, or the next call would inherit them.
    /// </summary>
    private sealed class Http2Stream<TContext> : IFeatureCollection, ICall, IHostContextContainer<TContext>, IHttpResponseFeature,
        IHttpResponseBodyFeature, IHttpResponseTrailersFeature, IRequestBodyPipeFeature
        where TContext : notnull
    {
        private readonly IHttpApplication<TContext> _application;
        private readonly Dictionary<Type, object> _features = [];
        private readonly Dictionary<Type, object> _added = [];
        private readonly HttpRequestFeature _request = new() { Protocol = "HTTP/2", Method = "POST", Scheme = "http" };
        private readonly RequestBody _requestBody = new();
        private readonly ResponseBody _responseBody = new();
        private readonly List<(Func<object, Task> Callback, object State)> _onStarting = [];
        private readonly List<(Func<object, Task> Callback, object State)> _onCompleted = [];

        public Http2Stream(IHttpApplication<TContext> application, int localPort)
        {
            _application = application;
            _request.Headers.ContentType = "application/grpc";
            _request.Headers.TE = "trailers";
            _features[typeof(IHttpRequestFeature)] = _request;
            _features[typeof(IHttpResponseFeature)] = this;
            _features[typeof(IHttpResponseBodyFeature)] = this;
            _features[typeof(IHttpResponseTrailersFeature)] = this;
            _features[typeof(IRequestBodyPipeFeature)] = this;
            _features[typeof(IHttpRequestLifetimeFeature)] = new HttpRequestLifetimeFeature();
            _features[typeof(IHttpConnectionFeature)] = new HttpConnectionFeature
            {
                ConnectionId = "in-process",
                LocalIpAddress = IPAddress.Loopback,
                LocalPort = localPort,
                RemoteIpAddress = IPAddress.Loopback,
                RemotePort = 40000,
            };
        }

        public TContext? HostContext { get; set; }

        public bool IsReadOnly => false;

        public int Revision { get; private set; }

        public int StatusCode { get; set; }

        public string? ReasonPhrase { get; set; }

        public IHeaderDictionary Headers { get; set; } = new HeaderDictionary();

        public IHeaderDictionary Trailers { get; set; } = new HeaderDictionary();

        public bool HasStarted { get; private set; }

        [Obsolete("Use IHttpResponseBodyFeature.Stream")]
        public System.IO.Stream Body
        {
            get => Stream;
            set => throw new NotSupportedException("the response body is the pipe");
        }

        public System.IO.Stream Stream => field ??= _responseBody.AsStream(leaveOpen: true);

        public PipeWriter Writer => _responseBody;

        public PipeReader Reader => _requestBody;

        public InProcessResponse Run(string path, ReadOnlyMemory<byte> frame)
        {
            _request.Path = path;
            _requestBody.Reset(frame);
            _responseBody.Reset();
            StatusCode = StatusCodes.Status200OK;
            ReasonPhrase = null;
            HasStarted = false;
            Headers.Clear();
            Trailers.Clear();
            _added.Clear();
            Revision++;

            var context = _application.CreateContext(this);
            Exception? failure = null;
            try
            {
                var processing = _application.ProcessRequestAsync(context);
                processing.GetAwaiter().GetResult(); // a cached answer completes synchronously; a miss would wait here
                StartAsync().GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                failure = ex;
                throw;
            }
            finally
            {
                RunCallbacks(_onCompleted);
                _application.DisposeContext(context, failure);
            }

            return new InProcessResponse(StatusCode, _responseBody.Written, Trailers.GrpcStatus() ?? Headers.GrpcStatus());
        }

        public object? this[Type key]
        {
            get => _added.TryGetValue(key, out var feature) || _features.TryGetValue(key, out feature) ? feature : null;
            set
            {
                if (value is null)
                {
                    _added.Remove(key);
                }
                else
                {
                    _added[key] = value;
                }

                Revision++;
            }
        }

        public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

        public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

        public IEnumerator<KeyValuePair<Type, object>> GetEnumerator() => _features.Concat(_added).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public void OnStarting(Func<object, Task> callback, object state) => _onStarting.Add((callback, state));

        public void OnCompleted(Func<object, Task> callback, object state) => _onCompleted.Add((callback, state));

        public void DisableBuffering()
        {
        }

        public Task StartAsync(CancellationToken cancellationToken = default)
        {
            if (!HasStarted)
            {
                HasStarted = true;
                RunCallbacks(_onStarting);
            }

            return Task.CompletedTask;
        }

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("gRPC sends no files");

        public Task CompleteAsync() => StartAsync();

        private static void RunCallbacks(List<(Func<object, Task> Callback, object State)> callbacks)
        {
            // Kestrel runs them last registered first.
            for (var i = callbacks.Count - 1; i >= 0; i--)
            {
                callbacks[i].Callback(callbacks[i].State).GetAwaiter().GetResult();
            }

            callbacks.Clear();
        }
    }

    /// <summary>The request body: the whole frame at once, as one DATA frame with END_STREAM.</summary>
    private sealed class RequestBody : PipeReader
    {
        private ReadOnlySequence<byte> _data;

        public void Reset(ReadOnlyMemory<byte> frame) => _data = new ReadOnlySequence<byte>(frame);

        public override bool TryRead(out ReadResult result)
        {
            result = new ReadResult(_data, isCanceled: false, isCompleted: true);
            return true;
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            return new(new ReadResult(_data, isCanceled: false, isCompleted: true));
        }

        public override void AdvanceTo(SequencePosition consumed) => _data = _data.Slice(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _data = _data.Slice(consumed);

        public override void CancelPendingRead()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }
    }

    /// <summary>The response body: a growable buffer, flushed at once.</summary>
    private sealed class ResponseBody : PipeWriter
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(1024);

        public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

        public void Reset() => _buffer.ResetWrittenCount();

        public override void Advance(int bytes) => _buffer.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
            new(new FlushResult(isCanceled: false, isCompleted: false));

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }
    }
}

/// <summary>What came back: the HTTP status, the body (valid until the next call), and the <c>grpc-status</c> trailer.</summary>
internal readonly record struct InProcessResponse(int HttpStatus, ReadOnlyMemory<byte> Body, string? GrpcStatus);

internal static class TrailerExtensions
{
    public static string? GrpcStatus(this IHeaderDictionary trailers) =>
        trailers.TryGetValue("grpc-status", out StringValues value) ? value.ToString() : null;
}
