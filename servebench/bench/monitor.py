"""What bench watches while a target is under load: CPU and memory of the server and of the
load generator (sampled), and a one-line progress report with the current rate and p99."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable

import psutil

from servebench.backends.process import session_tree
from servebench.metrics.promql import client_latency_quantile, scalar

SAMPLE_EVERY_S = 0.5


StatsSource = Callable[[], tuple[float, float]]  # () -> (CPU %, 100 = one core; memory MiB)


class ProcessTreeStats:
    """CPU % and resident MiB of a process started by spawn(), its descendants and its session,
    summed. CPU % counts from the previous call (psutil's clock), so the first call reads 0."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._processes: dict[int, psutil.Process] = {}

    def __call__(self) -> tuple[float, float]:
        cpu, rss = 0.0, 0
        for pid in session_tree(self.pid):
            try:
                process = self._process(pid)
                cpu += process.cpu_percent(None)
                rss += process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return cpu, rss / 2**20

    def _process(self, pid: int) -> psutil.Process:
        if pid not in self._processes:
            process = psutil.Process(pid)
            process.cpu_percent(None)  # the first call only starts the clock
            self._processes[pid] = process
        return self._processes[pid]


def server_stats(backend: dict) -> StatsSource | None:
    """Where a server's CPU and memory come from: Docker's stats API for a container, psutil for
    a local process, nothing when the record has neither (a cluster). Raises UsageError when
    the container's engine cannot be reached."""
    container = backend.get("settings", {}).get("container")
    if container:
        from servebench.backends.docker_mode import server_stats_source

        return server_stats_source(container)
    return ProcessTreeStats(backend["pid"]) if backend.get("pid") else None


class ResourceSampler(threading.Thread):
    """Samples each named source (``server``, ``loadgen``) every SAMPLE_EVERY_S seconds into
    ``<name>_cpu_percent`` and ``<name>_rss_mb``."""

    def __init__(self, sources: dict[str, StatsSource | None]) -> None:
        super().__init__(daemon=True)
        self.sources = {name: source for name, source in sources.items() if source is not None}
        self.samples: list[dict] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_EVERY_S):
            sample = {"unix": time.time()}
            for name, source in self.sources.items():
                # a missed sample (a container restarting, an engine hiccup) must not stop a run
                with contextlib.suppress(Exception):
                    sample[f"{name}_cpu_percent"], sample[f"{name}_rss_mb"] = source()
            self.samples.append(sample)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


class Progress(threading.Thread):
    """Prints the label, elapsed/total seconds, the current rate and p99, from Prometheus."""

    def __init__(self, label: str, total_s: float, prometheus: str | None, selector: str) -> None:
        super().__init__(daemon=True)
        self.label, self.total_s = label, total_s
        self.prometheus, self.selector = prometheus, selector
        self._halt = threading.Event()
        self.tty = sys.stderr.isatty()

    def run(self) -> None:
        start = time.time()
        while not self._halt.wait(1.0 if self.tty else 5.0):
            try:
                self._print(self._line(time.time() - start))
            except Exception:  # noqa: BLE001 (progress must never stop a measurement)
                continue
        if self.tty:
            sys.stderr.write("\n")

    def _line(self, elapsed: float) -> str:
        done = min(elapsed / self.total_s, 1.0)
        shown = min(elapsed, self.total_s)
        head = f"{self.label} [{'#' * int(done * 20):<20}] {shown:5.0f}/{self.total_s:.0f} s"
        if self.prometheus is None:
            return head
        rate = scalar(
            self.prometheus, f"sum(rate(servebench_client_requests_total{{{self.selector}}}[5s]))"
        )
        p99 = scalar(self.prometheus, client_latency_quantile(0.99, self.selector, "5s"))
        rate_text = f"{rate:8.1f} req/s" if rate is not None else "     -- req/s"
        p99_text = f"p99 {p99 * 1000:8.2f} ms" if p99 is not None else "p99       -- ms"
        return f"{head} {rate_text} {p99_text}"

    def _print(self, line: str) -> None:
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
