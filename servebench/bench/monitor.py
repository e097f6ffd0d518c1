"""What bench watches while a target is under load: CPU and memory of the server and of the
load generator (sampled), and a one-line progress report with the current rate and p99."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import psutil

from servebench.backends.process import session_tree
from servebench.metrics.promql import client_latency_quantile, scalar

SAMPLE_EVERY_S = 0.5


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MiB."""
    total = 0
    for member in session_tree(pid):
        try:
            total += psutil.Process(member).memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


class ResourceSampler(threading.Thread):
    """Samples CPU% (summed over a process tree, 100 = one core) and RSS of two trees."""

    def __init__(self, server_pid: int, loadgen_pid: int, server_stats=None) -> None:
        """``server_stats``: for a server in a container, a callable giving (CPU %, MiB)."""
        super().__init__(daemon=True)
        self.server_stats = server_stats
        self.roots = (
            {"loadgen": loadgen_pid}
            if server_stats
            else {"server": server_pid, "loadgen": loadgen_pid}
        )
        self.samples: list[dict] = []
        self._halt = threading.Event()
        self._processes: dict[int, psutil.Process] = {}

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_EVERY_S):
            sample = {"unix": time.time()}
            if self.server_stats is not None:
                # a missed sample must not stop the run
                with contextlib.suppress(Exception):
                    sample["server_cpu_percent"], sample["server_rss_mb"] = self.server_stats()
            for role, root in self.roots.items():
                cpu, rss = 0.0, 0
                for pid in session_tree(root):
                    try:
                        process = self._process(pid)
                        cpu += process.cpu_percent(None)
                        rss += process.memory_info().rss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
                sample[f"{role}_cpu_percent"] = cpu
                sample[f"{role}_rss_mb"] = rss / 2**20
            self.samples.append(sample)

    def _process(self, pid: int) -> psutil.Process:
        if pid not in self._processes:
            process = psutil.Process(pid)
            process.cpu_percent(None)  # the first call only starts the clock
            self._processes[pid] = process
        return self._processes[pid]

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
