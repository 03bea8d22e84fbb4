namespace Sidecar.Emulator.Internal;

/// <summary>A forced answer: the status code and, for 429/503, the <c>Retry-After</c> seconds.</summary>
internal readonly record struct ForcedFailure(int Status, int? RetryAfterSeconds);

/// <summary>The faults set through the admin API, with separate remaining-failure budgets for Edge and GraphQL.</summary>
internal sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private EmulatorFaults _faults = new();
    private int? _edgeRemaining;
    private int? _graphQlRemaining;

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

    public void Set(EmulatorFaults faults)
    {
        Validate(faults);
        lock (_gate)
        {
            _faults = faults;
            _edgeRemaining = faults.FailCount;
            _graphQlRemaining = faults.FailCount;
        }
    }

    public void Clear() => Set(new EmulatorFaults());

    public TimeSpan? EdgeLatency => Current.EdgeLatencyMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null;

    public TimeSpan? GraphQlLatency => Current.GraphQlLatencyMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null;

    public bool RefuseWebSockets => Current.WsRefuse == true;

    public bool TryTakeEdgeFailure(out ForcedFailure failure)
    {
        lock (_gate)
        {
            return TryTake(_faults.EdgeStatus, ref _edgeRemaining, out failure);
        }
    }

    public bool TryTakeGraphQlFailure(out ForcedFailure failure)
    {
        lock (_gate)
        {
            return TryTake(_faults.GraphQlStatus, ref _graphQlRemaining, out failure);
        }
    }

    private bool TryTake(int? status, ref int? remaining, out ForcedFailure failure)
    {
        failure = default;
        if (status is not { } code || remaining is <= 0)
        {
            return false;
        }

        if (remaining is { } left)
        {
            remaining = left - 1;
        }

        var retryAfter = code is 429 or 503 ? _faults.RetryAfterSeconds : null;
        failure = new ForcedFailure(code, retryAfter);
        return true;
    }

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
