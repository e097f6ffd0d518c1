"""From Prometheus and the resource samples to the figures of each measurement window; the
raw request log's own figures come from servebench.request_log."""

from __future__ import annotations

import numpy as np

from servebench.metrics.promql import client_latency_quantile, scalar
from servebench.request_log import QUANTILES


def prometheus_window(prometheus: str, target: str, model: str, start: float, end: float) -> dict:
    """The same window from the client histogram, via PromQL (cross-checks the raw log)."""
    span = f"{max(int(round(end - start)), 1)}s"
    selector = f'target="{target}",model="{model}"'
    latency = {}
    for name, q in QUANTILES.items():
        value = scalar(prometheus, client_latency_quantile(q, selector, span), at=end)
        latency[name] = value * 1000 if value is not None else None
    count = scalar(
        prometheus, f"sum(increase(servebench_client_requests_total{{{selector}}}[{span}]))", at=end
    )
    return {"requests": count, "latency_ms": latency}


def server_window(
    prometheus: str, server: str, protocol: str, model: str, start: float, end: float
) -> dict:
    """The server's own view of the window: TorchServe's means, TF Serving's histogram, the diy
    server's histogram."""
    span = f"{max(int(round(end - start)), 1)}s"
    if server == "torchserve":
        return _torchserve_window(prometheus, model, span, end)
    if server == "diy":
        return _diy_window(prometheus, model, span, end)
    # Predict calls only: TF Serving also times REST status and metadata GETs (API="") and
    # Classify/Regress under the same entrypoint.
    selector = f'model_name="{model}",API=~"predict|Predict",entrypoint="{protocol.upper()}"'
    histogram = f":tensorflow:serving:request_latency_bucket{{{selector}}}"
    figures = {}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        value = scalar(
            prometheus,
            f"histogram_quantile({q}, sum by (le) (increase({histogram}[{span}])))",
            at=end,
        )
        figures[f"latency_ms_{name}"] = value / 1000 if value is not None else None
    total = scalar(
        prometheus,
        f"sum(increase(:tensorflow:serving:request_latency_sum{{{selector}}}[{span}]))",
        at=end,
    )
    count = scalar(
        prometheus,
        f"sum(increase(:tensorflow:serving:request_latency_count{{{selector}}}[{span}]))",
        at=end,
    )
    figures["latency_ms_mean"] = total / count / 1000 if total is not None and count else None
    figures["requests"] = count
    return {"source": ":tensorflow:serving:request_latency histogram", **figures}


def _diy_window(prometheus: str, model: str, span: str, end: float) -> dict:
    """The diy server's prometheus-client histogram (seconds), successful requests only."""
    selector = f'model="{model}"'
    figures = {}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        value = scalar(
            prometheus,
            f"histogram_quantile({q}, sum by (le) "
            f"(increase(diy_request_latency_seconds_bucket{{{selector}}}[{span}])))",
            at=end,
        )
        figures[f"latency_ms_{name}"] = value * 1000 if value is not None else None
    sums = {
        part: scalar(
            prometheus,
            f"sum(increase(diy_request_latency_seconds_{part}{{{selector}}}[{span}]))",
            at=end,
        )
        for part in ("sum", "count")
    }
    total, count = sums["sum"], sums["count"]
    figures["latency_ms_mean"] = total / count * 1000 if total is not None and count else None
    figures["requests"] = count
    return {"source": "diy_request_latency_seconds histogram", **figures}


def _torchserve_window(prometheus: str, model: str, span: str, end: float) -> dict:
    """TorchServe's means. Its frontend's "inference" latency runs from the job's arrival to the
    reply (RestJob.java), so it already holds the queue time: it is the server's total, split
    here into the queue and what came after it. Its gRPC path counts requests but adds nothing
    to the latency sums (seen with 0.12.0), so a zero sum beside a non-zero count means "not
    recorded", not 0 ms."""
    selector = f'model_name="{model}"'
    requests = scalar(
        prometheus, f"sum(increase(ts_inference_requests_total{{{selector}}}[{span}]))", at=end
    )
    figures = {"source": "ts_* running sums (means only)", "requests": requests}
    for name, metric in (("server_ms_mean", "ts_inference_latency_microseconds"),
                         ("queue_ms_mean", "ts_queue_latency_microseconds")):  # fmt: skip
        total = scalar(prometheus, f"sum(increase({metric}{{{selector}}}[{span}]))", at=end)
        figures[name] = total / requests / 1000 if total and requests else None
    if figures["server_ms_mean"] is not None and figures["queue_ms_mean"] is not None:
        figures["after_queue_ms_mean"] = figures["server_ms_mean"] - figures["queue_ms_mean"]
    if requests and figures["server_ms_mean"] is None:
        figures["note"] = "TorchServe counted these requests but recorded no latency for them"
    return figures


# A server's own mean time for a request cannot exceed what its client waited, beyond the
# measurement error: the windows' edges and the metrics' rounding.
SERVER_TIME_SLACK = 1.05
SERVER_TIME_SLACK_MS = 0.5


def server_time_beyond_client(window: dict) -> str | None:
    """Why a window's server-side mean is not to be believed, or None."""
    side = window.get("server_side", {})
    server = side.get("server_ms_mean", side.get("latency_ms_mean"))
    client = window.get("latency_ms", {}).get("mean")
    if server is None or client is None:
        return None
    if server <= client * SERVER_TIME_SLACK + SERVER_TIME_SLACK_MS:
        return None
    return (
        f"the server's own mean time ({server:.3g} ms) exceeds the client's ({client:.3g} ms) "
        "for the same requests: a server-side figure counts something twice"
    )


def resource_window(samples: list[dict], start: float, end: float) -> dict:
    inside = [s for s in samples if start <= s["unix"] < end]
    if not inside:
        return {}
    figures = {}
    for key in ("server_cpu_percent", "server_rss_mb", "loadgen_cpu_percent", "loadgen_rss_mb",
                "loadgen_busiest_cpu_percent"):  # fmt: skip
        values = [s[key] for s in inside if key in s]
        if values:
            figures[f"{key}_mean"] = float(np.mean(values))
            figures[f"{key}_max"] = float(np.max(values))
    for name in ("server", "loadgen"):
        missed = sum(s.get(f"{name}_missed", 0) for s in inside)
        if missed:
            figures[f"{name}_samples_missed"] = missed
    return figures
