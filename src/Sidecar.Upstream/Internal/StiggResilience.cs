using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Sidecar.Upstream.Internal;

/// <summary>Which budget (total and per-attempt timeout) a call runs under.</summary>
internal enum CallBudget
{
    /// <summary><see cref="UpstreamOptions.EntitlementsTimeout"/> / <see cref="UpstreamOptions.EntitlementsAttemptTimeout"/>.</summary>
    Entitlements,

    /// <summary><see cref="UpstreamOptions.RequestTimeout"/> / <see cref="UpstreamOptions.RequestAttemptTimeout"/>.</summary>
    Request,
}

/// <summary>Whether a failed attempt may be repeated.</summary>
internal enum RetryPolicy
{
    /// <summary>
    /// Repeating cannot double-apply: reads, and mutations that carry an idempotency key (Stigg applies a key once).
    /// Any transient failure is retried: network errors, attempt timeouts, 429, 5xx.
    /// </summary>
    Idempotent,

    /// <summary>
    /// A mutation without an idempotency key: retried only when it was certainly not applied (the connection was never
    /// made, or 429/502/503/504). None of Stigg's operations here needs it today; it keeps the rule in one place.
    /// </summary>
    UnkeyedMutation,
}

/// <summary>
/// The Polly.Core pipelines every call to Stigg's API runs through, outermost first:
/// total timeout (the operation's budget) → retry (exponential back-off with jitter, <c>Retry-After</c> honoured) →
/// the circuit breaker shared by every call (Edge and GraphQL) → per-attempt timeout → the attempt.
/// </summary>
/// <remarks>
/// <para>
/// The breaker sits inside the retry so that it sees every attempt (a fetch that fails four times is four failures),
/// and outside the per-attempt timeout so that a black-holed Stigg (accepts, never answers) counts as a failure.
/// While it is open, an attempt fails at once with <see cref="BrokenCircuitException"/>, which the retry never
/// repeats: the call fails without network and without waiting.
/// </para>
/// <para>
/// Breaker settings (defaults in <see cref="UpstreamOptions"/>) and why: a failure ratio of 0.5 over a 10 s window
/// with at least 5 attempts. Half of the attempts failing is an outage, not a blip: one 503 among many successes
/// does not trip it. 10 s is one entitlements budget, so the breaker judges on what the current outage looks like,
/// not on an old incident. 5 attempts means a quiet sidecar trips after about two failed fetches (each is up to
/// four attempts) rather than on one unlucky request. A 5 s break keeps a down Stigg from being hammered by every
/// cache miss (one probe per 5 s per sidecar), while a recovery is found within 5 s; a half-open probe that
/// succeeds closes the circuit, one that fails opens it for another 5 s. One breaker for Edge and GraphQL: both
/// are Stigg, and what the sidecar does when either is down (fallback, outbox) is the same.
/// </para>
/// <para>
/// What counts as a failure (an outage): network errors, attempt timeouts, the budget running out mid-attempt,
/// 429 and 5xx. 401/403 (a bad key is not an outage), GraphQL <c>errors</c> and other 4xx are answers: they do not
/// open the circuit, and a probe that gets one closes it. A probe abandoned by its caller proves nothing and
/// re-opens the circuit rather than closing it.
/// </para>
/// <para>
/// Logging is one line per state change that matters: the circuit opening (warning) and closing (information, with
/// how long Stigg was down, how many probes failed and how many calls failed fast). Re-opening after a failed probe
/// and half-opening are debug lines, and calls rejected while open log nothing.
/// </para>
/// </remarks>
internal sealed class StiggResilience
{
    private static readonly ResiliencePropertyKey<CallState> CallKey = new("Sidecar.Upstream.Call");

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly UpstreamOptions _options;
    private readonly ResiliencePipeline _entitlements;
    private readonly ResiliencePipeline _requests;
    private readonly Lock _gate = new();
    private StiggCircuitState _state = StiggCircuitState.Closed;
    private long _outageStarted;
    private int _failedProbes;
    private long _rejected;

    public StiggResilience(UpstreamOptions options, ILogger logger, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _time = time;

        var breaker = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = options.CircuitBreakerFailureRatio,
                SamplingDuration = options.CircuitBreakerSamplingDuration,
                MinimumThroughput = options.CircuitBreakerMinimumThroughput,
                BreakDuration = options.CircuitBreakerBreakDuration,
                ShouldHandle = args => new ValueTask<bool>(IsOutage(args.Outcome.Exception, args.Context)),
                OnOpened = args =>
                {
                    OnOpened(args.Outcome.Exception, args.BreakDuration);
                    return default;
                },
                OnHalfOpened = _ =>
                {
                    OnHalfOpened();
                    return default;
                },
                OnClosed = _ =>
                {
                    OnClosed();
                    return default;
                },
            })
            .Build();

        _entitlements = Build(options.EntitlementsTimeout, options.EntitlementsAttemptTimeout, breaker);
        _requests = Build(options.RequestTimeout, options.RequestAttemptTimeout, breaker);
    }

    /// <summary>Raised after every state change, outside any lock; handler exceptions are logged and swallowed.</summary>
    public Action<StiggCircuitStateChangedEventArgs>? StateChanged { get; set; }

    public StiggCircuitState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> through the pipeline of <paramref name="budget"/>. Every failure comes out as
    /// an <see cref="UpstreamException"/> (with <see cref="UpstreamException.Attempts"/> set); a cancelled
    /// <paramref name="ct"/> as <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<T> ExecuteAsync<TState, T>(
        string operation,
        CallBudget budget,
        RetryPolicy policy,
        TState state,
        Func<TState, CancellationToken, Task<T>> attempt,
        CancellationToken ct)
    {
        var call = new CallState(operation, policy, budget == CallBudget.Entitlements ? _options.EntitlementsTimeout : _options.RequestTimeout, _time.GetTimestamp(), ct);
        var pipeline = budget == CallBudget.Entitlements ? _entitlements : _requests;
        var context = ResilienceContextPool.Shared.Get(operation, continueOnCapturedContext: false, ct);
        context.Properties.Set(CallKey, call);
        try
        {
            return await pipeline.ExecuteAsync(
                static (c, s) => AttemptAsync(c, s.Call, s.State, s.Attempt),
                context,
                (Call: call, State: state, Attempt: attempt)).ConfigureAwait(false);
        }
        catch (BrokenCircuitException ex)
        {
            Interlocked.Increment(ref _rejected);
            throw new UpstreamException(UpstreamFailure.Unavailable, CircuitOpenMessage(operation, ex), ex)
            {
                IsCircuitOpen = true,
                Attempts = call.Attempts,
            };
        }
        catch (TimeoutRejectedException ex) when (!ct.IsCancellationRequested)
        {
            var message = ex.Timeout == call.Budget
                ? $"{operation}: no answer within the {call.Budget.TotalMilliseconds:0} ms budget"
                  + (call.LastFailure is { } last ? $" (last failure: {last.Message})" : string.Empty)
                : $"{operation}: attempt {call.Attempts} got no answer within {ex.Timeout.TotalMilliseconds:0} ms";
            throw new UpstreamException(UpstreamFailure.Unavailable, message, ex)
            {
                StatusCode = (call.LastFailure as UpstreamException)?.StatusCode,
                Attempts = call.Attempts,
            };
        }
        catch (UpstreamException ex)
        {
            ex.Attempts = call.Attempts;
            throw;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ResiliencePipeline Build(TimeSpan budget, TimeSpan attemptTimeout, ResiliencePipeline breaker)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = _time }.AddTimeout(budget);
        if (_options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = _options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = _options.RetryMaxDelay,
                ShouldHandle = args => new ValueTask<bool>(ShouldRetry(args.Outcome.Exception, args.Context)),

                // The server's Retry-After (429/503) replaces the computed delay; ShouldRetry checked that it fits.
                DelayGenerator = args => new ValueTask<TimeSpan?>(
                    args.Outcome.Exception is UpstreamException { RetryAfter: { } after } && after > TimeSpan.Zero ? after : null),
                OnRetry = args =>
                {
                    var call = args.Context.Properties.GetValue(CallKey, null!);
                    Log.Retrying(_logger, call.Operation, args.AttemptNumber + 2, (long)args.RetryDelay.TotalMilliseconds, args.Outcome.Exception?.Message ?? "no exception");
                    return default;
                },
            });
        }

        return builder.AddPipeline(breaker).AddTimeout(attemptTimeout).Build();
    }

    private static async ValueTask<T> AttemptAsync<TState, T>(
        ResilienceContext context, CallState call, TState state, Func<TState, CancellationToken, Task<T>> attempt)
    {
        Interlocked.Increment(ref call.Attempts);
        var ct = context.CancellationToken;
        try
        {
            return await attempt(state, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            if (ct.IsCancellationRequested)
            {
                // A timeout (or the caller) cut the connection: let the timeout strategies see a cancellation.
                throw new OperationCanceledException(ex.Message, ex, ct);
            }

            var detail = ex is HttpRequestException { HttpRequestError: not HttpRequestError.Unknown } http
                ? $"{ex.Message} ({http.HttpRequestError})"
                : ex.Message;
            throw new UpstreamException(UpstreamFailure.Unavailable, $"{call.Operation}: {detail}", ex);
        }
    }

    private bool ShouldRetry(Exception? exception, ResilienceContext context)
    {
        var call = context.Properties.GetValue(CallKey, null!);
        if (exception is null or OperationCanceledException)
        {
            return false;
        }

        call.LastFailure = exception;
        switch (exception)
        {
            case TimeoutRejectedException:
                // The attempt may have reached Stigg: repeat it only when that cannot double-apply.
                return call.Policy == RetryPolicy.Idempotent;

            case UpstreamException failure when IsRetryable(failure, call.Policy):
                var remainingMs = (long)Math.Max(0, (call.Budget - _time.GetElapsedTime(call.Started)).TotalMilliseconds);
                if (failure.RetryAfter is { } after && (long)after.TotalMilliseconds >= remainingMs)
                {
                    Log.RetryBeyondBudget(_logger, call.Operation, (long)after.TotalMilliseconds, remainingMs);
                    return false;
                }

                return true;

            default:
                // BrokenCircuitException (fail fast), Unauthorized, InvalidResponse, anything unexpected.
                return false;
        }
    }

    internal static bool IsRetryable(UpstreamException failure, RetryPolicy policy)
    {
        if (failure.Failure != UpstreamFailure.Unavailable)
        {
            return false;
        }

        if (failure.StatusCode is { } status)
        {
            return policy == RetryPolicy.Idempotent
                ? status == 429 || status >= 500
                : status is 429 or 502 or 503 or 504;
        }

        // No status: a network error. Without a key, only a connection that was never made is safe to repeat.
        return policy == RetryPolicy.Idempotent
            || failure.InnerException is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError };
    }

    private bool IsOutage(Exception? exception, ResilienceContext context) => exception switch
    {
        null => false,
        TimeoutRejectedException => true,
        UpstreamException { Failure: UpstreamFailure.Unavailable } => true,

        // The call's budget ran out while the attempt was in flight: no answer in time.
        OperationCanceledException when !context.Properties.GetValue(CallKey, null!).CallerToken.IsCancellationRequested => true,

        // The caller gave up on the half-open probe: it proves nothing, so re-open rather than close.
        OperationCanceledException => State == StiggCircuitState.HalfOpen,
        _ => false,
    };

    private void OnOpened(Exception? cause, TimeSpan breakDuration)
    {
        var reason = cause?.Message ?? "failures";
        StiggCircuitState previous;
        lock (_gate)
        {
            previous = _state;
            _state = StiggCircuitState.Open;
            if (previous == StiggCircuitState.HalfOpen)
            {
                _failedProbes++;
            }
            else
            {
                _outageStarted = _time.GetTimestamp();
                _failedProbes = 0;
                Interlocked.Exchange(ref _rejected, 0);
            }
        }

        if (previous == StiggCircuitState.HalfOpen)
        {
            Log.CircuitReopened(_logger, reason, (long)breakDuration.TotalMilliseconds);
        }
        else
        {
            Log.CircuitOpened(_logger, reason, (long)breakDuration.TotalMilliseconds);
        }

        Raise(new StiggCircuitStateChangedEventArgs(StiggCircuitState.Open, previous, reason));
    }

    private void OnHalfOpened()
    {
        StiggCircuitState previous;
        lock (_gate)
        {
            previous = _state;
            _state = StiggCircuitState.HalfOpen;
        }

        Log.CircuitHalfOpen(_logger);
        Raise(new StiggCircuitStateChangedEventArgs(StiggCircuitState.HalfOpen, previous, null));
    }

    private void OnClosed()
    {
        StiggCircuitState previous;
        long downMs;
        int failedProbes;
        lock (_gate)
        {
            previous = _state;
            _state = StiggCircuitState.Closed;
            downMs = (long)_time.GetElapsedTime(_outageStarted).TotalMilliseconds;
            failedProbes = _failedProbes;
        }

        var rejected = Interlocked.Read(ref _rejected);
        Log.CircuitClosed(_logger, downMs, failedProbes, rejected);
        Raise(new StiggCircuitStateChangedEventArgs(StiggCircuitState.Closed, previous, null));
    }

    private void Raise(StiggCircuitStateChangedEventArgs args)
    {
        try
        {
            StateChanged?.Invoke(args);
        }
        catch (Exception ex)
        {
            Log.CircuitHandlerFailed(_logger, ex);
        }
    }

    private static string CircuitOpenMessage(string operation, BrokenCircuitException ex)
    {
        var probe = ex.RetryAfter is { } after && after > TimeSpan.Zero
            ? $"; the next probe is due in {after.TotalMilliseconds:0} ms"
            : string.Empty;
        var cause = ex.InnerException is { } inner ? $" Last failure: {inner.Message}" : string.Empty;
        return $"Stigg is unavailable: circuit open after repeated failures, {operation} was not sent{probe}.{cause}";
    }

    /// <summary>What one call carries through the pipeline (a <see cref="ResilienceContext"/> property).</summary>
    private sealed class CallState(string operation, RetryPolicy policy, TimeSpan budget, long started, CancellationToken callerToken)
    {
        public int Attempts;

        public string Operation { get; } = operation;

        public RetryPolicy Policy { get; } = policy;

        public TimeSpan Budget { get; } = budget;

        public long Started { get; } = started;

        public CancellationToken CallerToken { get; } = callerToken;

        public Exception? LastFailure { get; set; }
    }
}
