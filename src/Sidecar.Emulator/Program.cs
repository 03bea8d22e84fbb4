using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Sidecar.Emulator;

/// <summary>
/// <c>stigg-emulator [--port N] [--host H] [--fixture path] [--api-key K] [--edge-latency-ms N]</c>; each flag also
/// reads from EMULATOR_PORT / EMULATOR_HOST / EMULATOR_FIXTURE / EMULATOR_API_KEY / EMULATOR_EDGE_LATENCY_MS
/// (flags win). Prints one line with the URL once listening; stops on SIGTERM or Ctrl-C.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: stigg-emulator [--port N] [--host H] [--fixture path] [--api-key K] [--edge-latency-ms N] [--verbose]";

    public static async Task<int> Main(string[] args)
    {
        EmulatorOptions options;
        try
        {
            if (args.Contains("--help") || args.Contains("-h"))
            {
                Console.WriteLine(Usage);
                return 0;
            }

            options = Parse(args, Environment.GetEnvironmentVariable);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"stigg-emulator: {ex.Message}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        EmulatorServer server;
        try
        {
            server = await EmulatorServer.StartAsync(options).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"stigg-emulator: cannot start: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        await using (server.ConfigureAwait(false))
        {
            Console.WriteLine($"stigg-emulator listening on {server.BaseUrl.GetLeftPart(UriPartial.Authority)}");
            await stop.Task.ConfigureAwait(false);
        }

        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }
    }

    internal static EmulatorOptions Parse(string[] args, Func<string, string?> env)
    {
        string? Flag(string name)
        {
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] == name)
                {
                    return i + 1 < args.Length ? args[i + 1] : throw new FormatException($"{name} needs a value.");
                }

                if (args[i].StartsWith(name + "=", StringComparison.Ordinal))
                {
                    return args[i][(name.Length + 1)..];
                }
            }

            return null;
        }

        var known = new[] { "--port", "--host", "--fixture", "--api-key", "--edge-latency-ms" };
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].Split('=', 2)[0];
            if (name == "--verbose")
            {
                continue;
            }

            if (!known.Contains(name))
            {
                throw new FormatException($"unknown argument '{args[i]}'.");
            }

            if (!args[i].Contains('=', StringComparison.Ordinal))
            {
                i++;
            }
        }

        var options = new EmulatorOptions
        {
            ConfigureLogging = logging => logging
                .SetMinimumLevel(args.Contains("--verbose") ? LogLevel.Debug : LogLevel.Information)
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                })
                .AddFilter("Microsoft", LogLevel.Warning),
        };

        if ((Flag("--port") ?? env("EMULATOR_PORT")) is { Length: > 0 } port)
        {
            options = options with { Port = Int(port, "port", 0, 65535) };
        }

        if ((Flag("--host") ?? env("EMULATOR_HOST")) is { Length: > 0 } host)
        {
            options = options with { Host = host };
        }

        if ((Flag("--fixture") ?? env("EMULATOR_FIXTURE")) is { Length: > 0 } fixture)
        {
            options = options with { FixturePath = fixture };
        }

        if ((Flag("--api-key") ?? env("EMULATOR_API_KEY")) is { Length: > 0 } apiKey)
        {
            options = options with { ApiKey = apiKey };
        }

        if ((Flag("--edge-latency-ms") ?? env("EMULATOR_EDGE_LATENCY_MS")) is { Length: > 0 } latency)
        {
            options = options with { EdgeLatency = TimeSpan.FromMilliseconds(Int(latency, "edge latency (ms)", 0, 600_000)) };
        }

        return options;
    }

    private static int Int(string text, string what, int min, int max) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FormatException($"{what} must be an integer between {min} and {max}, not '{text}'.");
}
