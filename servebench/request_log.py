"""The raw request log: one CSV per Locust process (requests-<pid>.csv) in a run folder, and a
test_start.json marker, written by the recorder and read by bench's analysis and the report.

Each row is one completed request. "scheduled" is 1 for an open-loop request, whose start_unix
is its scheduled send time. "version" names the model version that answered, where the load
could tell (a rollout); logs written before it existed lack the column.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

FIELDS = [
    "start_unix", "latency_s", "target", "model", "outcome", "failure_kind", "scheduled",
    "version",
]  # fmt: skip
PREFIX = "requests-"
TEST_START = "test_start.json"


def log_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{PREFIX}*.csv"))


def writer_pid(path: Path) -> str:
    """The PID of the Locust process that wrote the log file."""
    return path.stem.removeprefix(PREFIX)


class LogWriter:
    """One process's log file in ``folder``."""

    def __init__(self, folder: Path, pid: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(folder / f"{PREFIX}{pid}.csv", "w", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._file)
        self._writer.writerow(FIELDS)

    def write(
        self,
        start: float,
        latency: float,
        target: str,
        model: str,
        kind: str | None,
        scheduled: bool,
        version: int | None = None,
    ) -> None:
        outcome = "success" if kind is None else "failure"
        self._writer.writerow(
            [f"{start:.6f}", f"{latency:.6f}", target, model, outcome, kind or "",
             "1" if scheduled else "", version or ""]
        )  # fmt: skip

    def close(self) -> None:
        self._file.close()


def mark_test_start(folder: Path) -> None:
    """The wall-clock start of the test, so windows (warm-up, repetitions) can be cut later."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / TEST_START
    if not marker.exists():  # in a distributed run the master and the workers all say so
        marker.write_text(json.dumps({"unix": time.time()}))


def read_test_start(folder: Path) -> float | None:
    """When the test started, or None before any Locust process said so."""
    marker = folder / TEST_START
    return json.loads(marker.read_text())["unix"] if marker.is_file() else None


class LogTail:
    """The rows the request log gained since the last call. Writers flush in blocks, so only
    complete lines count; a cut line is read whole next time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._offsets: dict[Path, int] = {}

    def new_rows(self) -> list[dict]:
        rows = []
        for path in log_files(self.folder):
            with path.open("rb") as file:
                file.seek(self._offsets.get(path, 0))
                data = file.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offsets[path] = self._offsets.get(path, 0) + len(complete)
            lines = io.StringIO(complete.decode())
            rows += [row for row in csv.DictReader(lines, FIELDS) if row[FIELDS[0]] != FIELDS[0]]
        return rows


QUANTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p99.9": 0.999}


@dataclass
class RequestLog:
    """Every request of one run: completion time, latency, outcome and failure kind, and the
    time that places it in a window. An open-loop request belongs to the window it was
    scheduled in, however late its reply (or timeout) came; a closed-loop one to the window it
    completed in."""

    end: np.ndarray
    latency: np.ndarray
    success: np.ndarray
    kinds: list[str]
    at: np.ndarray
    versions: np.ndarray  # the model version that answered; 0 where unknown

    @classmethod
    def read(cls, folder: Path) -> RequestLog:
        """Every request log file in ``folder`` (one per Locust process of a run)."""
        return cls.read_files(log_files(folder))

    @classmethod
    def read_files(cls, paths: list[Path]) -> RequestLog:
        ends, latencies, successes, kinds, at, versions = [], [], [], [], [], []
        for path in paths:
            with open(path, newline="") as log:
                for row in csv.DictReader(log):
                    start, latency = float(row["start_unix"]), float(row["latency_s"])
                    ends.append(start + latency)
                    at.append(start if row.get("scheduled") else start + latency)
                    latencies.append(latency)
                    successes.append(row["outcome"] == "success")
                    kinds.append(row["failure_kind"])
                    versions.append(int(row.get("version") or 0))
        arrays = np.asarray(ends), np.asarray(latencies), np.asarray(successes, bool)
        return cls(*arrays, kinds, np.asarray(at), np.asarray(versions, int))

    @property
    def start(self) -> np.ndarray:
        """When each request was sent (scheduled, in open loop)."""
        return self.end - self.latency

    def __len__(self) -> int:
        return len(self.end)

    def window(self, start: float, end: float) -> dict:
        """Figures for the requests that belong to [start, end). A failed or timed-out request
        counts as infinitely slow in every percentile (a quantile that falls on one is None,
        and named in ``tail_failed``); the mean is the successes'. With no request at all the
        error ratio is unknown (None), not 0."""
        inside = (self.at >= start) & (self.at < end)
        seconds = end - start
        ok = inside & self.success
        errors = Counter(
            kind for kind, keep in zip(self.kinds, inside & ~self.success, strict=True) if keep
        )
        count = int(inside.sum())
        latency = percentiles(self.latency[ok] * 1000, count - int(ok.sum()))
        return {
            "requests": count,
            "successes": int(ok.sum()),
            "achieved_rps": float(ok.sum() / seconds) if seconds > 0 else 0.0,
            "completed_rps": float(count / seconds) if seconds > 0 else 0.0,
            "errors": dict(errors),
            "error_ratio": float((count - ok.sum()) / count) if count else None,
            "latency_ms": latency,
            "tail_failed": [name for name in QUANTILES if latency[name] is None and count],
        }

    def goodput_rps(self, start: float, end: float, slo_ms: float) -> float:
        """Requests of [start, end) served successfully within ``slo_ms``, per second."""
        inside = (self.at >= start) & (self.at < end) & self.success
        good = inside & (self.latency * 1000 <= slo_ms)
        return float(good.sum() / (end - start)) if end > start else 0.0


def percentiles(millis: np.ndarray, failed: int = 0) -> dict:
    """Each quantile of QUANTILES over the successes' latencies and ``failed`` requests that
    count as infinitely slow: the empirical quantile (the smallest latency at or above the
    share q of all requests, no interpolation), None where it falls on a failure."""
    if millis.size == 0:
        return {name: None for name in [*QUANTILES, "mean"]}
    ordered = np.sort(millis)
    total = ordered.size + failed
    figures = {}
    for name, q in QUANTILES.items():
        rank = max(math.ceil(q * total) - 1, 0)
        figures[name] = float(ordered[rank]) if rank < ordered.size else None
    figures["mean"] = float(ordered.mean())
    return figures
