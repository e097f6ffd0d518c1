"""The report's figures, drawn with matplotlib and embedded as PNG data URIs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: render to memory
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from servebench.request_log import RequestLog  # noqa: E402

STYLE = {
    "torchserve-rest": "C0-",
    "torchserve-grpc": "C0--",
    "tfserving-rest": "C1-",
    "tfserving-grpc": "C1--",
    "diy-rest": "C2:",  # the baseline: its own colour, dotted
}


def _finish(figure, axis, **labels) -> str:
    """Axis labels, a legend, and the figure as a PNG data URI."""
    axis.set(**labels)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=7)
    return _png(figure)


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def legend(entry: dict) -> str:
    """A target and what served it: "tfserving-rest (tfserving-emulator)"."""
    return f"{entry['target']} ({entry.get('implementation', 'unknown')})"


def latency_vs_load(results: dict, model: str) -> str:
    """p50 and p99 of each window as points, unjoined: windows of one load level are repeats,
    not a curve. The knee probes, at rates set on purpose, are the latency-throughput curve."""
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    knees = [k for k in results.get("knee", []) if k["model"] == model]
    closed_loop = not results["params"].get("rate") and not knees
    for entry in (t for t in results["targets"] if t["model"] == model):
        color = STYLE[entry["target"]][:2]
        marker = "o" if entry["target"].endswith("rest") else "^"
        for quantile, size, alpha in (("p99", 7, 1.0), ("p50", 4, 0.5)):
            axis.plot(
                [r["offered_rps"] for r in entry["repetitions"]],
                [r["latency_ms"][quantile] for r in entry["repetitions"]],
                color=color,
                linestyle="none",
                marker=marker,
                markersize=size,
                alpha=alpha,
                label=f"{legend(entry)} {quantile}, per window",
            )
    for knee in knees:
        probes = sorted(
            (p for p in knee["probes"] if p["p99_ms"] is not None), key=lambda p: p["rate"]
        )
        axis.plot(
            [p["rate"] for p in probes],
            [p["p99_ms"] for p in probes],
            STYLE[knee["target"]],
            marker="s",
            label=f"{legend(knee)} p99 by Poisson rate (knee probes)",
        )
    load = "sustained by the users (closed loop)" if closed_loop else "offered"
    return _finish(
        figure,
        axis,
        xlabel=f"load {load} (req/s)",
        ylabel="latency (ms)",
        yscale="log",
        title=f"{model}: latency vs load",
    )


def latency_cdf(results: dict, run_dir: Path, model: str) -> str:
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for entry in (t for t in results["targets"] if t["model"] == model and t["repetitions"]):
        log = RequestLog.read(run_dir / model / entry["target"])
        start, end = entry["repetitions"][0]["start_unix"], entry["repetitions"][-1]["end_unix"]
        keep = (log.end >= start) & (log.end < end) & log.success
        millis = np.sort(log.latency[keep] * 1000)
        if millis.size:
            axis.plot(
                millis,
                np.arange(1, millis.size + 1) / millis.size,
                STYLE[entry["target"]],
                label=legend(entry),
            )
    return _finish(
        figure,
        axis,
        xlabel="latency (ms)",
        ylabel="fraction of requests",
        xscale="log",
        title=f"{model}: latency CDF (measurement windows)",
    )


def throughput_over_time(results: dict, run_dir: Path, model: str) -> str:
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for entry in (t for t in results["targets"] if t["model"] == model):
        log = RequestLog.read(run_dir / model / entry["target"])
        if not len(log):
            continue
        seconds = np.floor(log.end[log.success] - log.end.min())
        bins = np.arange(0, seconds.max() + 2) if seconds.size else np.arange(2)
        counts, _ = np.histogram(seconds, bins=bins)
        axis.plot(bins[:-1], counts, STYLE[entry["target"]], label=legend(entry))
    return _finish(
        figure,
        axis,
        xlabel="seconds since the target's first reply (warm-up included)",
        ylabel="successful replies per second",
        title=f"{model}: throughput over time",
    )
