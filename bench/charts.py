#!/usr/bin/env python3
"""Charts of one bench/run.sh run, as SVG, from the same files report.py reads.

    charts.py --results bench/out/results.jsonl --meta bench/out/meta.json --out bench/out/charts

Writes, for the series the run has (the sidecar or the --against target, the floor, the Node peer, Redis):
    latency.svg     p50 / p90 / p99 / p99.9 per stream count (load client)
    throughput.svg  req/s per stream count (h2load; Redis GET from redis-benchmark)
    restart.svg     exec -> ready and RSS by cached customers (the size sweep), when the run has one
Needs matplotlib (Debian: python3-matplotlib); run.sh checks for it before calling this.
"""

import argparse
import json
import os
import textwrap

import matplotlib

matplotlib.use("Agg")  # no display on CI or over ssh
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

# Text stays text (small files, searchable) and element ids do not change between runs of the same data, so a
# re-run does not rewrite every line of a committed chart.
plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "sidecar-bench", "font.size": 9,
                     "axes.spines.top": False, "axes.spines.right": False})
SVG_META = {"Date": None, "Creator": "bench/charts.py"}

COLORS = {"sidecar": "#1f77b4", "health": "#7f7f7f", "node": "#d62728", "redis": "#2ca02c"}
PERCENTILES = (("p50Us", "p50"), ("p90Us", "p90"), ("p99Us", "p99"), ("p999Us", "p99.9"))


def load(results_path, meta_path):
    res = {}
    for line in open(results_path, encoding="utf-8"):
        if line.strip():
            item = json.loads(line)
            res[item["name"]] = item["data"]
    return res, json.load(open(meta_path, encoding="utf-8"))


def subject(meta):
    if meta.get("against"):
        return "target %s (%s)" % (meta["against"], meta.get("method") or "?")
    return "sidecar GetBooleanEntitlement"


def header(fig, title, meta):
    """Title, the run that made the chart and, for a smoke run, a warning; returns the top of the plotting area."""
    width, height = fig.get_size_inches()
    run = "%s · %s · commit %s · %s cores (%s) shared with the load generator" % (
        meta["command"], meta["date"], meta["commit"], meta["cores"], meta["cpu"])
    lines = [(title, 11, "black", "bold")]
    lines += [(part, 8, "#444444", "normal") for part in textwrap.wrap(run, int(width * 15))]
    if meta.get("smoke"):
        lines.append(("SMOKE RUN: tiny datasets, 1 s points; not a measurement", 9, "#b00000", "bold"))
    y = 1 - 0.1 / height
    for text, size, color, weight in lines:
        fig.text(0.01, y, text, fontsize=size, color=color, fontweight=weight, ha="left", va="top")
        y -= (size + 4) / 72 / height
    return y - 0.05 / height


def log_axis(axis):
    """Log scale read as plain numbers at 1-2-5 steps (10^3 is harder to read than 1,000)."""
    axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1, 2, 5)))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: "{:,.0f}".format(v) if v >= 1 else "%g" % v))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.savefig(path, format="svg", metadata=SVG_META)
    plt.close(fig)
    print(path)


def latency(res, meta, out_dir):
    series = [("load.sidecar.boolean", "sidecar", subject(meta)),
              ("load.health", "health", "floor: Health/Check (same server)"),
              ("load.node.boolean", "node", "Node @grpc/grpc-js peer")]
    streams = [s for s in meta["streams"] if any(res.get("%s.%s" % (key, s)) for key, _, _ in series)]
    present = [(key, color, label) for key, color, label in series if any(res.get("%s.%s" % (key, s)) for s in streams)]
    if not streams:
        return
    fig, axes = plt.subplots(1, len(streams), figsize=(max(8, 3.2 * len(streams) + 0.6), 4.4), squeeze=False)
    width = 0.8 / len(present)
    for ax, s in zip(axes[0], streams):
        for i, (key, color, label) in enumerate(present):
            d = res.get("%s.%s" % (key, s)) or {}
            xs = [j + (i - (len(present) - 1) / 2) * width for j in range(len(PERCENTILES))]
            ax.bar(xs, [d.get(k) or 0 for k, _ in PERCENTILES], width, color=COLORS[color], label=label)
        ax.set_yscale("log")
        log_axis(ax.yaxis)
        ax.set_xticks(range(len(PERCENTILES)))
        ax.set_xticklabels([name for _, name in PERCENTILES])
        ax.set_title("%s stream%s" % (s, "" if s == 1 else "s"))
        ax.grid(axis="y", which="both", alpha=0.25)
    axes[0][0].set_ylabel("latency, µs (log scale)")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=len(present), frameon=False)
    top = header(fig, "Latency percentiles per stream count (closed loop, every call recorded)", meta)
    fig.tight_layout(rect=(0, 0.07, 1, top))
    save(fig, out_dir, "latency.svg")


def throughput(res, meta, out_dir):
    series = [("h2load.sidecar", "sidecar", subject(meta)),
              ("h2load.health", "health", "floor: Health/Check (same server)"),
              ("h2load.node", "node", "Node @grpc/grpc-js peer"),
              ("redis", "redis", "Redis GET (redis-benchmark, reference)")]
    streams = meta["streams"]
    present = [(key, color, label) for key, color, label in series if any(res.get("%s.%s" % (key, s)) for s in streams)]
    if not present:
        return
    fig, ax = plt.subplots(figsize=(8, 4.8))
    width = 0.8 / len(present)
    for i, (key, color, label) in enumerate(present):
        values = [(res.get("%s.%s" % (key, s)) or {}).get("rps") or 0 for s in streams]
        xs = [j + (i - (len(present) - 1) / 2) * width for j in range(len(streams))]
        bars = ax.bar(xs, values, width, color=COLORS[color], label=label, hatch="//" if key == "redis" else None,
                      fill=key != "redis", edgecolor=COLORS[color])
        for bar, value in zip(bars, values):
            if value:
                ax.annotate("%.0fk" % (value / 1000) if value >= 10000 else "%.1fk" % (value / 1000),
                            (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 1), textcoords="offset points")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.08)  # room for the value labels
    ax.set_xticks(range(len(streams)))
    ax.set_xticklabels([str(s) for s in streams])
    ax.set_xlabel("concurrent streams (up to %s HTTP/2 connections)" % meta["connections"])
    ax.set_ylabel("requests / s")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: "{:,.0f}".format(v)))
    ax.grid(axis="y", alpha=0.25)
    # Below the axes: inside, it would cover the bars of whichever stream count is tallest.
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, frameon=False)
    top = header(fig, "Throughput (h2load, one pre-encoded request per target)", meta)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * ((len(present) + 1) // 2), 1, top))
    save(fig, out_dir, "throughput.svg")


def restart(res, meta, out_dir):
    points = [(n, res["size.%s" % n]) for n in meta.get("sizes", []) if res.get("size.%s" % n)]
    if not points:
        return
    ns = [n for n, _ in points]
    fig, (ax_ready, ax_rss) = plt.subplots(1, 2, figsize=(8, 3.8))
    for ax, key, unit, color in ((ax_ready, "readyMs", "exec → /readyz 200, ms", "#1f77b4"),
                                 (ax_rss, "rssMb", "RSS when ready, MB", "#9467bd")):
        values = [d[key] for _, d in points]
        ax.plot(ns, values, marker="o", color=color)
        for n, v in zip(ns, values):
            ax.annotate("%.0f" % v if v >= 10 else "%.1f" % v, (n, v), xytext=(0, 5), textcoords="offset points",
                        ha="center", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.margins(x=0.1, y=0.15)  # room for the value labels at both ends
        log_axis(ax.yaxis)
        ax.set_xticks(ns)
        ax.set_xticklabels(["{:,}".format(n) for n in ns])
        ax.minorticks_off()
        ax.set_xlabel("customers (%s entitlements each)" % meta.get("sizeFeatures", "?"))
        ax.set_ylabel(unit + " (log scale)")
        ax.grid(alpha=0.25)
    top = header(fig, "Restart by customers: exec → ready and RSS (ENTITLEMENTS_FILE)", meta)
    fig.tight_layout(rect=(0, 0, 1, top))
    save(fig, out_dir, "restart.svg")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", required=True)
    parser.add_argument("--meta", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    res, meta = load(args.results, args.meta)
    os.makedirs(args.out, exist_ok=True)
    latency(res, meta, args.out)
    throughput(res, meta, args.out)
    restart(res, meta, args.out)


if __name__ == "__main__":
    main()
