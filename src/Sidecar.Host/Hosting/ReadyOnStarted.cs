using Microsoft.Extensions.Hosting;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Marks the sidecar ready once every hosted service (Kestrel included) has started and before the host announces it
/// (systemd's READY=1 is sent on ApplicationStarted, which follows <see cref="StartedAsync"/>), so nothing reports the
/// sidecar started while /readyz and the gRPC health service would still say not serving.
/// </summary>
internal sealed class ReadyOnStarted(Action markReady) : IHostedLifecycleService
{
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        markReady();
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
