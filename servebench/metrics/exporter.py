"""The load generator's own metrics: a latency histogram and counters per target and outcome.

TorchServe publishes mean latencies only, so percentiles for both servers come from here. Every
Locust process (the one standalone process, or each worker) serves its own registry on a free
port and announces it to Prometheus through file service discovery, so the series of several
workers add up with sum().
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from servebench.backends.process import LOCALHOST, free_port
from servebench.target import Target


def latency_buckets(low: float = 50e-6, high: float = 60.0, factor: float = 1.15) -> list[float]:
    """Geometric bucket bounds in seconds: about 15% apart from 50 µs to 60 s (101 buckets)."""
    bounds = [low]
    while bounds[-1] < high:
        bounds.append(bounds[-1] * factor)
    return [float(f"{bound:.6g}") for bound in bounds]


class ScrapeClock:
    """A collector with no series: it notes when the registry was last collected, i.e. when
    the latest scrape of the exporter began."""

    def __init__(self) -> None:
        self.last: float | None = None  # time.monotonic() of the latest scrape

    def describe(self) -> list:
        return []

    def collect(self) -> list:
        self.last = time.monotonic()
        return []


class LoadMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.scrapes = ScrapeClock()
        self.registry.register(self.scrapes)
        labels = ["target", "protocol", "model"]
        self.latency = Histogram(
            "servebench_client_latency_seconds",
            "Client-side latency: from the scheduled send (open loop) or the send (closed loop) "
            "to the complete reply",
            [*labels, "outcome"],
            buckets=latency_buckets(),
            registry=self.registry,
        )
        self.requests = Counter(
            "servebench_client_requests", "Requests completed", labels, registry=self.registry
        )
        self.failures = Counter(
            "servebench_client_failures",
            "Requests that failed, by kind",
            [*labels, "kind"],
            registry=self.registry,
        )

    def declare(self, target: str, model: str) -> None:
        """Create the series at zero now, so that PromQL's increase() sees the first requests."""
        protocol = Target.parse(target).protocol
        self.latency.labels(target, protocol, model, "success")
        self.requests.labels(target, protocol, model)

    def observe(self, target: str, model: str, seconds: float, failure_kind: str | None) -> None:
        protocol = Target.parse(target).protocol
        outcome = "success" if failure_kind is None else "failure"
        self.latency.labels(target, protocol, model, outcome).observe(seconds)
        self.requests.labels(target, protocol, model).inc()
        if failure_kind is not None:
            self.failures.labels(target, protocol, model, failure_kind).inc()

    def serve(self, announce_dir: Path | None, port: int = 0, address: str = LOCALHOST) -> int:
        """Serve on ``address``:``port`` (0: a free one); write where Prometheus can reach it
        into ``announce_dir`` (file service discovery)."""
        port = port or free_port()
        start_http_server(port, addr=address, registry=self.registry)
        if announce_dir is not None:
            announce(announce_dir, address, port, os.getpid())
        return port


def announce(announce_dir: Path, address: str, port: int, pid: int) -> Path:
    """Write the exporter of the load generator ``pid`` (listening on ``address``:``port``)
    into ``announce_dir``, where Prometheus's file service discovery reads it. Written again
    with the same content, it leaves Prometheus's target as it was."""
    announce_dir.mkdir(parents=True, exist_ok=True)
    entry = [
        {"targets": [f"{reachable_host(address)}:{port}"], "labels": {"loadgen_pid": str(pid)}}
    ]
    target_file = announcement(announce_dir, pid)
    temporary = target_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(entry))
    temporary.rename(target_file)  # Prometheus must never read half a file
    return target_file


def announcement(announce_dir: Path, pid: int) -> Path:
    return announce_dir / f"loadgen-{pid}.json"


def wait_for_final_scrape(
    scrapes: ScrapeClock, settle: float = 0.5, timeout: float = 5.0, unscraped: float = 2.5
) -> bool:
    """Wait until a scrape that began now or later has been read, plus ``settle`` seconds for
    Prometheus to store it: with a scrape a second, about a second rather than a fixed wait.
    An exporter never scraped so far gets the fixed ``unscraped`` seconds instead. True once
    such a scrape was seen."""
    since = time.monotonic()
    if scrapes.last is None:
        time.sleep(unscraped)
        return scrapes.last is not None
    deadline = since + timeout
    while time.monotonic() < deadline:
        if scrapes.last is not None and scrapes.last >= since:
            time.sleep(settle)
            return True
        time.sleep(0.05)
    return False


def reachable_host(address: str) -> str:
    """The host another container reaches an exporter listening on ``address`` by: the
    address itself, or for a wildcard, this container's own IP address on its network."""
    if address not in ("0.0.0.0", "::", ""):
        return address
    return socket.gethostbyname(socket.gethostname())


def wait_until_scraped(prometheus: str, port: int, timeout: float = 20.0) -> bool:
    """Wait until Prometheus scrapes the exporter on ``port`` (it batches newly discovered
    targets for up to 5 s); a test started before that would lose its first seconds."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            targets = requests.get(f"{prometheus}/api/v1/targets", timeout=2).json()
            for target in targets["data"]["activeTargets"]:
                if f":{port}/" in target["scrapeUrl"] and target["health"] == "up":
                    return True
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.25)
    return False
