"""What bench watches while a target is under load: CPU and memory of the server and of the
load generator (sampled), and a one-line progress report with the current rate and p99."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from servebench.backends.process import session_tree
from servebench.metrics.promql import client_latency_quantile, scalar
from servebench.request_log import LogTail

SAMPLE_EVERY_S = 0.5


StatsSource = Callable[[], tuple[float, float]]  # () -> (CPU %, 100 = one core; memory MiB)


class ProcessTreeStats:
    """CPU % and resident MiB of a process started by spawn(), its descendants and its session,
    summed; ``busiest`` keeps the last call's busiest single process (a Locust process saturates
    at one core, however many the tree has). CPU % counts from the previous call (psutil's
    clock), so the first call reads 0."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._processes: dict[int, psutil.Process] = {}
        self.busiest = 0.0

    def __call__(self) -> tuple[float, float]:
        cpu, rss, busiest = 0.0, 0, 0.0
        for pid in session_tree(self.pid):
            try:
                process = self._process(pid)
                used = process.cpu_percent(None)
                rss += process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            cpu, busiest = cpu + used, max(busiest, used)
        self.busiest = busiest
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


def server_footprint(backend: dict) -> dict | None:
    """How many processes and threads the server runs (and, in a container, its image's size),
    or None where neither a process nor a container is recorded."""
    container = backend.get("settings", {}).get("container")
    image_bytes = None
    if container:
        from servebench.backends.docker_mode import container_footprint

        found = container_footprint(container)
        if found is None:
            return None
        pids, image_bytes = found["pids"], found["image_bytes"]
    elif backend.get("pid"):
        pids = session_tree(backend["pid"])
    else:
        return None
    threads = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            threads += psutil.Process(pid).num_threads()
    return {"processes": len(pids), "threads": threads, "image_bytes": image_bytes}


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
                # A missed sample (a container restarting, an engine hiccup) must not stop a
                # run, and is counted: a window without samples is not measured, never 0%.
                try:
                    sample[f"{name}_cpu_percent"], sample[f"{name}_rss_mb"] = source()
                except Exception:  # noqa: BLE001
                    sample[f"{name}_missed"] = 1
                    continue
                if hasattr(source, "busiest"):
                    sample[f"{name}_busiest_cpu_percent"] = source.busiest
            self.samples.append(sample)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def say(line: str) -> None:
    """A progress or result line, on stderr beside the live line (stdout keeps the tables)."""
    print(line, file=sys.stderr, flush=True)


Schedule = list[tuple[str, float]]  # (what the load is for, seconds), in order


def schedule(warmup_s: float, windows: int, window_s: float) -> Schedule:
    """A warm-up (when there is one), then numbered windows."""
    parts = [("warm-up", warmup_s)] if warmup_s > 0 else []
    return parts + [(f"window {i + 1}/{windows}", window_s) for i in range(windows)]


LiveSource = Callable[[], tuple[float | None, float | None]]  # () -> (req/s, p99 s) now


def prometheus_live(prometheus: str, selector: str) -> LiveSource:
    """The last 5 s of the client-side metrics."""

    def read() -> tuple[float | None, float | None]:
        rate = scalar(prometheus, f"sum(rate(servebench_client_requests_total{{{selector}}}[5s]))")
        return rate, scalar(prometheus, client_latency_quantile(0.99, selector, "5s"))

    return read


def log_live(folder: Path) -> LiveSource:
    """The rows the request log gained since the last call (written in buffered blocks, so a
    slow target's figures arrive in steps)."""
    tail = LogTail(folder)
    last = [time.time()]

    def read() -> tuple[float | None, float | None]:
        rows = tail.new_rows()
        found = sorted(float(row["latency_s"]) for row in rows if row["outcome"] == "success")
        now, elapsed = time.time(), time.time() - last[0]
        last[0] = now
        p99 = found[int(0.99 * (len(found) - 1))] if found else None
        return len(found) / elapsed if elapsed > 0 else None, p99

    return read


class Progress(threading.Thread):
    """A live line: what the load is for now (warm-up, window k/n), elapsed/total seconds, and
    the last seconds' rate and p99. It is a glimpse, not a result: on a terminal it is erased
    when the run ends, and the caller prints the result, from the raw log, as the tables do."""

    def __init__(
        self,
        label: str,
        parts: Schedule,
        live: LiveSource | None,
        test_start: Callable[[], float | None],
    ) -> None:
        super().__init__(daemon=True)
        self.label, self.parts, self.live = label, parts, live
        self.test_start = test_start  # None until Locust has started the test
        self.total_s = sum(seconds for _, seconds in parts)
        self._halt = threading.Event()
        self.tty = sys.stderr.isatty()
        self._width = 0

    def run(self) -> None:
        while not self._halt.wait(1.0 if self.tty else 5.0):
            try:
                start = self.test_start()
                elapsed = None if start is None else time.time() - start
                if self.tty or elapsed is None or elapsed < self.total_s:
                    self._print(self._line(elapsed))
            except Exception:  # noqa: BLE001 (progress must never stop a measurement)
                continue
        if self.tty:  # the live figures go: the result line replaces them
            sys.stderr.write("\r" + " " * self._width + "\r")

    def _part(self, elapsed: float) -> str:
        for name, seconds in self.parts:
            if elapsed < seconds:
                return name
            elapsed -= seconds
        return "stopping"

    def _line(self, elapsed: float | None) -> str:
        if elapsed is None:
            return f"{self.label}: starting Locust ..."
        done = min(elapsed / self.total_s, 1.0) if self.total_s else 1.0
        shown = min(elapsed, self.total_s)
        head = (
            f"{self.label} [{'#' * int(done * 20):<20}] {shown:5.0f}/{self.total_s:.0f} s "
            f"{self._part(elapsed):<12}"
        )
        if self.live is None or elapsed >= self.total_s:
            return head
        rate, p99 = self.live()
        rate_text = f"now {rate:8.1f} req/s" if rate is not None else "now       -- req/s"
        p99_text = f"p99 {p99 * 1000:8.2f} ms" if p99 is not None else "p99       -- ms"
        return f"{head} {rate_text} {p99_text}"

    def _print(self, line: str) -> None:
        self._width = max(self._width, len(line))
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
