"""Small PromQL helpers over Prometheus' HTTP API."""

from __future__ import annotations

import math

import requests

from servebench.errors import UsageError


def query(prometheus: str, expr: str, at: float | None = None) -> list[dict]:
    """The instant vector for ``expr`` (evaluated at unix time ``at``, or now)."""
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    try:
        reply = requests.get(f"{prometheus}/api/v1/query", params=params, timeout=10)
    except requests.RequestException as exc:
        raise UsageError(f"Prometheus at {prometheus} is not answering ({exc})") from None
    body = reply.json()
    if body.get("status") != "success":
        raise UsageError(f"PromQL {expr!r} failed: {body.get('error', reply.text[:200])}")
    return body["data"]["result"]


def scalar(prometheus: str, expr: str, at: float | None = None) -> float | None:
    """The single value of ``expr``, or None when the vector is empty or not a number."""
    result = query(prometheus, expr, at)
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) or math.isinf(value) else value


def client_latency_quantile(q: float, selector: str, window: str) -> str:
    """PromQL for the q-quantile of successful requests' client latency (seconds) over window."""
    buckets = f'servebench_client_latency_seconds_bucket{{{selector},outcome="success"}}'
    return f"histogram_quantile({q}, sum by (le) (increase({buckets}[{window}])))"
