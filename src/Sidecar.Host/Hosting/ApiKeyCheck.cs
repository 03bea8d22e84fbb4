using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sidecar.Host.Diagnostics;
using Sidecar.Upstream;

namespace Sidecar.Host.Hosting;

/// <summary>
/// Checks the API key against Stigg once at start, in the background: a bad key or no network never stops the
/// process (seed: "Error handling"); readiness says what was found.
/// </summary>
internal sealed class ApiKeyCheck(StiggApiClient client, SidecarStatus status, ILogger<ApiKeyCheck> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        status.Upstream = "connecting";
        try
        {
            await client.ValidateApiKeyAsync(stoppingToken).ConfigureAwait(false);
            status.Upstream = "connected";
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (UpstreamException ex) when (ex.Failure == UpstreamFailure.Unauthorized)
        {
            status.Upstream = "invalid-api-key";
            Log.ApiKeyInvalid(logger, ex);
        }
        catch (Exception ex)
        {
            status.Upstream = "unreachable";
            Log.UpstreamUnreachableAtStart(logger, ex.Message);
        }
    }
}
