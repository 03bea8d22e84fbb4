using Microsoft.Extensions.Logging;
using Sidecar.Cache.Redis.Internal;
using Sidecar.Core;
using Sidecar.Core.Model;
using StackExchange.Redis;

namespace Sidecar.Cache.Redis;

/// <summary>
/// One connection to Redis (= one sidecar), shared by the <see cref="RedisTier"/> and the
/// <see cref="RedisFetchCoordinator"/>: the client, the database, the key layout, the options and the rate-limited
/// error logging. Its owner disposes it after the tier and the coordinator are done with it.
/// </summary>
/// <remarks>Start-up never waits for or fails on Redis: the client keeps reconnecting in the background.</remarks>
public sealed class RedisConnection : IAsyncDisposable
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly LogThrottle _errorLogs;
    private readonly LogThrottle _disconnectedLogs;
    private readonly LogThrottle _connectionLogs;
    private int _disposed;

    private RedisConnection(ConnectionMultiplexer multiplexer, RedisTierOptions options, ILogger logger, TimeProvider time)
    {
        Multiplexer = multiplexer;
        Options = options;
        Logger = logger;
        Time = time;
        Keys = new RedisKeyspace(options.EnvironmentPrefix);
        Database = multiplexer.GetDatabase(options.Db);
        _errorLogs = new LogThrottle(time, LogInterval);
        _disconnectedLogs = new LogThrottle(time, LogInterval);
        _connectionLogs = new LogThrottle(time, LogInterval);
        DataLogs = new LogThrottle(time, LogInterval);
        Multiplexer.ConnectionFailed += OnConnectionFailed;
        Multiplexer.ConnectionRestored += OnConnectionRestored;
    }

    /// <summary>True while at least one connection to Redis is up.</summary>
    public bool IsConnected => Multiplexer.IsConnected;

    /// <summary>The options the connection was made with.</summary>
    public RedisTierOptions Options { get; }

    internal ConnectionMultiplexer Multiplexer { get; }

    internal IDatabase Database { get; }

    internal RedisKeyspace Keys { get; }

    internal ILogger Logger { get; }

    internal TimeProvider Time { get; }

    /// <summary>Throttles lines about bad data found in Redis (corrupt JSON, missing usage keys).</summary>
    internal LogThrottle DataLogs { get; }

    /// <summary>
    /// Connects. Returns once connected or after <see cref="RedisTierOptions.ConnectTimeout"/>, whichever is first: an
    /// unreachable Redis is logged, never thrown, and the client keeps reconnecting.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid (not a Redis availability problem).</exception>
    public static async Task<RedisConnection> ConnectAsync(
        RedisTierOptions options,
        ILogger logger,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();

        var endpoint = $"{options.Host}:{options.Port}";
        Log.Connecting(logger, endpoint, options.Db, options.Tls, options.EnvironmentPrefix);
        var operationMs = (int)Math.Ceiling(options.OperationTimeout.TotalMilliseconds);
        var config = new ConfigurationOptions
        {
            EndPoints = { { options.Host, options.Port } },
            DefaultDatabase = options.Db,
            User = options.Username,
            Password = options.Password,
            Ssl = options.Tls,
            SslHost = options.Tls ? options.Host : null,
            ClientName = "stigg-sidecar-aot",
            AbortOnConnectFail = false,
            ConnectRetry = 1,
            ConnectTimeout = (int)Math.Ceiling(options.ConnectTimeout.TotalMilliseconds),

            // Our own bound (WaitAsync) answers the request; the library's timeout only reclaims abandoned commands.
            SyncTimeout = Math.Max(1000, operationMs),
            AsyncTimeout = Math.Max(1000, operationMs),

            // While disconnected, fail at once (a miss) instead of queueing requests until the timeout.
            BacklogPolicy = BacklogPolicy.FailFast,

            // Close to Stigg's ioredis strategy, min(2^n × 100, 8000) ms plus jitter.
            ReconnectRetryPolicy = new ExponentialRetry(100, 8000),
        };

        // The connect log says why a first connection failed (a refused password reads as "not reachable" otherwise).
        var connectLog = new SynchronizedWriter();
        var connecting = ConnectionMultiplexer.ConnectAsync(config, connectLog);
        ConnectionMultiplexer multiplexer;
        try
        {
            multiplexer = await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Start-up was abandoned: close the connection once the attempt settles instead of leaking it.
            _ = connecting.ContinueWith(
                static t => t.Result.Dispose(),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion,
                TaskScheduler.Default);
            throw;
        }

        var connection = new RedisConnection(multiplexer, options, logger, timeProvider);
        if (!multiplexer.IsConnected)
        {
            if (connectLog.LineSaying("WRONGPASS", "NOAUTH", "AuthenticationFailure", "invalid password", "invalid username-password") is { } refusal)
            {
                Log.CredentialsRefusedAtStart(logger, endpoint, connection.Redact(refusal));
            }
            else
            {
                Log.NotConnectedAtStart(logger, endpoint, $"no connection within the {options.ConnectTimeout.TotalMilliseconds:0} ms connect timeout");
            }
        }

        return connection;
    }

    /// <summary>Closes the connection without waiting on a Redis that is down; safe to call twice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Multiplexer.ConnectionFailed -= OnConnectionFailed;
        Multiplexer.ConnectionRestored -= OnConnectionRestored;

        // Shutdown must not wait on a Redis that is down: drop pending commands and bound the close.
        try
        {
            await Multiplexer.CloseAsync(allowCommandsToComplete: false).WaitAsync(CloseTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or RedisException)
        {
            // Closing is best effort; Dispose below releases the sockets either way.
        }

        Multiplexer.Dispose();
    }

    /// <summary>True while connected; otherwise logs (rate-limited) that <paramref name="operation"/> is skipped.</summary>
    internal bool CheckConnected(string operation, CustomerKey key)
    {
        if (Multiplexer.IsConnected)
        {
            return true;
        }

        if (_disconnectedLogs.TryEnter(out var suppressed))
        {
            Log.NotConnected(Logger, operation, key, "not connected to Redis", suppressed);
        }

        return false;
    }

    /// <summary>
    /// Runs one Redis call bounded by <see cref="RedisTierOptions.OperationTimeout"/>. Redis down, an error or the
    /// timeout is logged (rate-limited) and answered as default — a miss or a no-op; only the caller's cancellation
    /// propagates.
    /// </summary>
    internal async Task<T?> RunAsync<T>(string operation, CustomerKey key, Func<Task<T>> body, CancellationToken cancellationToken)
    {
        if (!CheckConnected(operation, key))
        {
            return default;
        }

        try
        {
            return await body().WaitAsync(Options.OperationTimeout, Time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            ReportFailure(operation, key, ex);
            return default;
        }
    }

    /// <summary>Logs an exception from a Redis call (rate-limited, password redacted).</summary>
    internal void ReportFailure(string operation, CustomerKey key, Exception ex)
    {
        if (_errorLogs.TryEnter(out var suppressed))
        {
            Log.OperationFailed(Logger, operation, key, Cause(ex), suppressed);
        }
    }

    /// <summary>The error type as logged: "Timeout" for our own bound, else the exception's type name.</summary>
    internal static string ErrorType(Exception ex) => ex is TimeoutException ? "Timeout" : ex.GetType().Name;

    /// <summary>A failure's cause as logged: its type and message, password redacted.</summary>
    internal string Cause(Exception ex) => ErrorType(ex) + ": " + Redact(ex.Message);

    internal string Redact(string message) =>
        string.IsNullOrEmpty(Options.Password) ? message : message.Replace(Options.Password, "*****", StringComparison.Ordinal);

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (_connectionLogs.TryEnter(out _))
        {
            Log.ConnectionFailed(Logger, e.ConnectionType, e.EndPoint, e.Exception is { } ex ? $"{e.FailureType}: {Redact(ex.Message)}" : e.FailureType.ToString());
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) =>
        Log.ConnectionRestored(Logger, e.ConnectionType, e.EndPoint);

    /// <summary>What the client writes while connecting, kept to tell why a connection failed.</summary>
    private sealed class SynchronizedWriter : StringWriter
    {
        private readonly Lock _gate = new();

        public SynchronizedWriter()
            : base(System.Globalization.CultureInfo.InvariantCulture)
        {
        }

        public override void Write(char value)
        {
            lock (_gate)
            {
                base.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (_gate)
            {
                base.Write(value);
            }
        }

        public override void WriteLine(string? value)
        {
            lock (_gate)
            {
                base.WriteLine(value);
            }
        }

        /// <summary>The first line of the connection log that contains one of <paramref name="words"/>, or null.</summary>
        public string? LineSaying(params string[] words)
        {
            string text;
            lock (_gate)
            {
                text = ToString();
            }

            return text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => words.Any(w => l.Contains(w, StringComparison.OrdinalIgnoreCase)));
        }
    }
}
