"""The report's figures, drawn with matplotlib and embedded as PNG data URIs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: render to memory
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from servebench.request_log import RequestLog, read_test_start  # noqa: E402

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
        log = _entry_log(entry, run_dir)
        keep = np.zeros(len(log), bool)
        for rep in entry["repetitions"]:  # every run's window, never its warm-up
            keep |= (log.end >= rep["start_unix"]) & (log.end < rep["end_unix"])
        keep &= log.success
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
        log = _entry_log(entry, run_dir, first_run_only=True)
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
        title=f"{model}: throughput over time (each target's first run)",
    )


def _entry_log(entry: dict, run_dir: Path, first_run_only: bool = False) -> RequestLog:
    """The target's request logs: every run's, or its first run's alone (a folder a run)."""
    paths = [run_dir / path for path in entry.get("files", {}).get("request_logs") or []]
    if first_run_only and paths:
        paths = [path for path in paths if path.parent == paths[0].parent]
    if not paths:  # a run folder from before runs had folders of their own
        return RequestLog.read(run_dir / entry["model"] / entry["target"])
    return RequestLog.read_files(paths)


def operations_over_time(entry: dict, run_dir: Path) -> str | None:
    """One scenario run of one target, second by second: the p99 of what succeeded above; the
    replies (by model version, where a rollout told them apart) and failures below; each event
    (a fault, a rollout step, a change of load) marked. None without a request log."""
    logs = entry.get("files", {}).get("request_logs") or []
    if not logs:
        return None
    folder = run_dir / Path(logs[0]).parent
    log = RequestLog.read(folder)
    if not len(log):
        return None
    start = read_test_start(folder) or float(log.end.min())
    second = np.floor(log.end - start).astype(int)
    bins = np.arange(0, second.max() + 2)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 4.8), sharex=True)
    p99 = [_p99_ms(log.latency[log.success & (second == s)]) for s in bins[:-1]]
    top.plot(bins[:-1], p99, "C0.-", markersize=3)
    top.set(ylabel="p99 of successes (ms)", yscale="log", title=_title(entry))
    for label, chosen, style in _reply_series(log):
        counts, _ = np.histogram(second[chosen], bins=bins)
        bottom.plot(bins[:-1], counts, style, label=label)
    for at, text in operation_events(entry, start):
        for axis in (top, bottom):
            axis.axvline(at, color="0.4", linestyle=":", linewidth=1)
        top.annotate(text, (at, 1), xycoords=("data", "axes fraction"), fontsize=6,
                     rotation=90, va="top", ha="right")  # fmt: skip
    return _finish(figure, bottom, xlabel="seconds since the test started",
                   ylabel="replies per second")  # fmt: skip


def operation_events(entry: dict, start: float) -> list[tuple[float, str]]:
    """(seconds since the test started, what happened) for the scenario's events."""
    events = []
    fault = entry.get("fault") or {}
    if fault.get("injected_unix"):
        events.append((fault["injected_unix"] - start, f"{fault['kind']} killed"))
    for step in (entry.get("rollout") or {}).get("steps", []):
        move = f"v{step['from']}->v{step['to']}"
        events.append((step["triggered_unix"] - start, f"{step['label']} {move}"))
        if step.get("done_unix"):
            events.append((step["done_unix"] - start, f"only v{step['to']}"))
    if not events:
        events = [(phase["start_s"], phase["label"]) for phase in entry.get("phases", [])[1:]]
    return events


def _reply_series(log: RequestLog) -> list[tuple[str, np.ndarray, str]]:
    versions = sorted(set(log.versions[log.success].tolist()) - {0})
    colours = {1: "C2-", 2: "C4-"}  # failures are C3 (red) throughout
    series = [(f"answered by v{v}", log.success & (log.versions == v), colours.get(v, "C5-"))
              for v in versions]  # fmt: skip
    if not versions:
        series = [("successes", log.success, "C2-")]
    return series + [("failures", ~log.success, "C3-")]


def _p99_ms(latency: np.ndarray) -> float:
    return float(np.quantile(latency, 0.99) * 1000) if latency.size else np.nan


def _title(entry: dict) -> str:
    return f"{entry['model']} {legend(entry)}"
