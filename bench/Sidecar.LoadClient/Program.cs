using System.Globalization;
using Sidecar.LoadClient;

// sidecar-load <command> [--option value ...]; every command prints one JSON object on stdout.
//   encode      --kind K --customer C --feature F --out FILE          one pre-encoded gRPC request frame (for h2load -d)
//   check       --url U --kind K --customer C --feature F [--allow-fallback]
//                                                                     one call; exit 1 unless grpc-status 0 (and not fallback)
//   load        --url U --kind K (--customers N | --customer ID) --features a,b [--zipf S] [--concurrency C]
//               [--connections K] [--duration S] [--warmup S] [--seed N]  fixed-duration closed-loop load, exact percentiles
//   storm       --url U --admin A --customers-from I --distinct D --checks C --feature F [--timeout S]
//                                                                     C concurrent checks over D uncached customers
//   exec-ready  --ready-url U --log FILE [--timeout S] -- CMD ARGS   start CMD, time exec to the first 200 from U
// Kinds: boolean, numeric, metered, enum, v2-credit, health (grpc.health.v1.Health/Check).
try
{
    if (args.Length == 0)
    {
        return Usage();
    }

    var options = Options.Parse(args.AsSpan(1));
    return args[0] switch
    {
        "encode" => Commands.Encode(options),
        "check" => await Commands.CheckAsync(options).ConfigureAwait(false),
        "load" => await LoadRun.RunAsync(options).ConfigureAwait(false),
        "storm" => await Storm.RunAsync(options).ConfigureAwait(false),
        "exec-ready" => await ExecReady.RunAsync(options).ConfigureAwait(false),
        _ => Usage(),
    };
}
catch (OptionException ex)
{
    await Console.Error.WriteLineAsync("sidecar-load: " + ex.Message).ConfigureAwait(false);
    return 2;
}
catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
{
    await Console.Error.WriteLineAsync($"sidecar-load: {args[0]}: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
    return 1;
}

static int Usage()
{
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"usage: sidecar-load encode|check|load|storm|exec-ready [options] (see bench/README.md)"));
    return 2;
}
