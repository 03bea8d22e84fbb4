namespace Sidecar.Upstream;

/// <summary>
/// The state of the circuit breaker shared by every call to Stigg's API (Edge and GraphQL), for readiness and
/// metrics.
/// </summary>
public enum StiggCircuitState
{
    /// <summary>Calls go to Stigg.</summary>
    Closed,

    /// <summary>Stigg is considered down: calls fail at once with <see cref="UpstreamFailure.Unavailable"/>, no network.</summary>
    Open,

    /// <summary>The break is over and one probe call is on its way; other calls still fail at once.</summary>
    HalfOpen,
}

/// <summary>A change of <see cref="StiggApiClient.CircuitState"/>.</summary>
public sealed class StiggCircuitStateChangedEventArgs : EventArgs
{
    public StiggCircuitStateChangedEventArgs(StiggCircuitState state, StiggCircuitState previousState, string? reason)
    {
        State = state;
        PreviousState = previousState;
        Reason = reason;
    }

    public StiggCircuitState State { get; }

    public StiggCircuitState PreviousState { get; }

    /// <summary>When the circuit opens: the failure that opened it (safe to log). Null otherwise.</summary>
    public string? Reason { get; }
}
