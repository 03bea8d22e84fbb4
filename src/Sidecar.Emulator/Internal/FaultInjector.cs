namespace Sidecar.Emulator.Internal;

/// <summary>A forced answer: the status code and, for 429/503, the <c>Retry-After</c> seconds.</summary>
internal readonly record struct ForcedFailure(int Status, int? RetryAfterSeconds);

/// <summary>The fault one request gets: a connection fault, a forced status, or neither.</summary>
internal readonly record struct InjectedFault(EmulatorConnectionFault? Connection, ForcedFailure? Status)
{
    public bool IsNone => Connection is null && Status is null;
}

/// <summary>The faults set through the admin API, with separate remaining-failure budgets for Edge and GraphQL.</summary>
internal sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private EmulatorFaults _faults = new();
    private int? _edgeRemaining;
    private int? _graphQlRemaining;
    private TaskCompletionSource _generation = NewGeneration();

    public EmulatorFaults Current
    {
        get
        {
            lock (_gate)
            {
                return _faults;
            }
        }
    }

    public static void Validate(EmulatorFaults faults)
    {
        CheckStatus(faults.EdgeStatus, "edgeStatus");
        CheckStatus(faults.GraphQlStatus, "graphQlStatus");
        CheckRange(faults.EdgeLatencyMs, 0, 600_000, "edgeLatencyMs");
        CheckRange(faults.GraphQlLatencyMs, 0, 600_000, "graphQlLatencyMs");
        CheckRange(faults.RetryAfterSeconds, 0, 86_400, "retryAfterSeconds");
        CheckRange(faults.FailCount, 0, int.MaxValue, "failCount");
    }

    /// <summary>Completes when the faults are next replaced or cleared: ends black-holed requests.</summary>
    public Task Changed
    {
        get
        {
            lock (_gate)
            {
                return _generation.Task;
            }
        }
    }

    public void Set(EmulatorFaults faults)
    {
        Validate(faults);
        TaskCompletionSource previous;
        lock (_gate)
        {
            _faults = faults;
            _edgeRemaining = faults.FailCount;
            _graphQlRemaining = faults.FailCount;
            previous = _generation;
            _generation = NewGeneration();
        }

        previous.TrySetResult();
    }

    public void Clear() => Set(new EmulatorFaults());

    public TimeSpan? EdgeLatency => Current.EdgeLatencyMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null;

    public TimeSpan? GraphQlLatency => Current.GraphQlLatencyMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null;

    public bool RefuseWebSockets => Current.WsRefuse == true;

    /// <summary>The fault the next Edge request gets (one <c>failCount</c> unit when any).</summary>
    public InjectedFault TakeEdge()
    {
        lock (_gate)
        {
            return Take(_faults.EdgeConnection, _faults.EdgeStatus, ref _edgeRemaining);
        }
    }

    /// <summary>The fault the next <c>POST /graphql</c> gets (one <c>failCount</c> unit when any).</summary>
    public InjectedFault TakeGraphQl()
    {
        lock (_gate)
        {
            return Take(_faults.GraphQlConnection, _faults.GraphQlStatus, ref _graphQlRemaining);
        }
    }

    private InjectedFault Take(EmulatorConnectionFault? connection, int? status, ref int? remaining)
    {
        if ((connection is null && status is null) || remaining is <= 0)
        {
            return default;
        }

        if (remaining is { } left)
        {
            remaining = left - 1;
        }

        // A connection fault wins over a forced status: the request never gets as far as an answer.
        if (connection is not null)
        {
            return new InjectedFault(connection, null);
        }

        var code = status!.Value;
        var retryAfter = code is 429 or 503 ? _faults.RetryAfterSeconds : null;
        return new InjectedFault(null, new ForcedFailure(code, retryAfter));
    }

    private static TaskCompletionSource NewGeneration() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void CheckStatus(int? status, string name)
    {
        if (status is { } s && (s < 200 || s > 599))
        {
            throw EmulatorException.BadInput($"{name} must be an HTTP status between 200 and 599.");
        }
    }

    private static void CheckRange(int? value, int min, int max, string name)
    {
        if (value is { } v && (v < min || v > max))
        {
            throw EmulatorException.BadInput($"{name} must be between {min} and {max}.");
        }
    }
}
