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
}


def _finish(figure, axis, **labels) -> str:
    """Axis labels, a legend, and the figure as a PNG data URI."""
    axis.set(**labels)
    axis.legend(fontsize=7)
    return _png(figure)


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def latency_vs_load(results: dict, model: str) -> str:
    """p50 and p99 against offered load: one point per window (and per knee probe)."""
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for entry in (t for t in results["targets"] if t["model"] == model):
        reps = sorted(entry["repetitions"], key=lambda r: r["offered_rps"])
        offered = [r["offered_rps"] for r in reps]
        for quantile, marker, alpha in (("p99", "o", 1.0), ("p50", ".", 0.5)):
            axis.plot(
                offered,
                [r["latency_ms"][quantile] for r in reps],
                STYLE[entry["target"]],
                marker=marker,
                alpha=alpha,
                label=f"{entry['target']} {quantile}",
            )
    for knee in (k for k in results.get("knee", []) if k["model"] == model):
        probes = sorted(
            (p for p in knee["probes"] if p["p99_ms"] is not None), key=lambda p: p["rate"]
        )
        axis.plot(
            [p["rate"] for p in probes],
            [p["p99_ms"] for p in probes],
            STYLE[knee["target"]],
            marker="s",
            label=f"{knee['target']} knee probes p99",
        )
    return _finish(
        figure,
        axis,
        xlabel="offered load (req/s)",
        ylabel="latency (ms)",
        yscale="log",
        title=f"{model}: latency vs offered load",
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
                label=entry["target"],
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
        axis.plot(bins[:-1], counts, STYLE[entry["target"]], label=entry["target"])
    return _finish(
        figure,
        axis,
        xlabel="seconds since the target's first reply (warm-up included)",
        ylabel="successful replies per second",
        title=f"{model}: throughput over time",
    )
