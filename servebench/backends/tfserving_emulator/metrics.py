"""TF Serving's Prometheus metrics, under its own names and in its own exposition format.

prometheus_client would rename the counter to ``..._total`` (OpenMetrics rules); TF Serving does
not, and dashboards and recording rules written for it must work here unchanged.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
# TF Serving records request latency in microseconds, buckets Exponential(10, 1.8, 33).
LATENCY_BOUNDS_US = [10 * 1.8**i for i in range(33)]


class ServingMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._buckets: dict[tuple[str, str, str], list[int]] = defaultdict(
            lambda: [0] * (len(LATENCY_BOUNDS_US) + 1)
        )
        self._sums: Counter[tuple[str, str, str]] = Counter()

    def observe(self, model: str, api: str, entrypoint: str, status: str, seconds: float) -> None:
        """One request, labelled as TF Serving labels it: over gRPC ``api`` is the RPC's name
        (Predict, Classify, Regress), over REST the URL's method (predict, classify, regress;
        empty for GETs). Latency is recorded for successful requests only, as TF Serving does."""
        with self._lock:
            self._counts[(model, status)] += 1
            if status != "OK":
                return
            micros = seconds * 1e6
            key = (model, api, entrypoint)
            index = next(
                (i for i, bound in enumerate(LATENCY_BOUNDS_US) if micros <= bound),
                len(LATENCY_BOUNDS_US),
            )
            self._buckets[key][index] += 1
            self._sums[key] += micros

    def render(self) -> str:
        with self._lock:
            lines = [f"# TYPE {REQUEST_COUNT} counter"]
            for (model, status), count in sorted(self._counts.items()):
                lines.append(f'{REQUEST_COUNT}{{model_name="{model}",status="{status}"}} {count}')
            lines.append(f"# TYPE {REQUEST_LATENCY} histogram")
            for (model, api, entrypoint), buckets in sorted(self._buckets.items()):
                labels = f'model_name="{model}",API="{api}",entrypoint="{entrypoint}"'
                cumulative = 0
                for bound, count in zip([*LATENCY_BOUNDS_US, None], buckets, strict=True):
                    cumulative += count
                    le = "+Inf" if bound is None else f"{bound:g}"
                    lines.append(f'{REQUEST_LATENCY}_bucket{{{labels},le="{le}"}} {cumulative}')
                key = (model, api, entrypoint)
                lines.append(f"{REQUEST_LATENCY}_sum{{{labels}}} {self._sums[key]:.17g}")
                lines.append(f"{REQUEST_LATENCY}_count{{{labels}}} {cumulative}")
            return "\n".join(lines) + "\n"
