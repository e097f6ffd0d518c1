"""Every completed request, twice: into the Prometheus histogram and into a CSV log.

Open-loop requests carry their scheduled send time in the event context; their latency is
measured from it, so queueing in front of an overloaded server is not hidden (coordinated
omission). Closed-loop requests use Locust's own response time. Every request's context names
the model it was sent to, which is what it is counted under: a model picked in Locust's web UI
differs from the one the process started with.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

from servebench.metrics.exporter import LoadMetrics

# "scheduled" is 1 for an open-loop request, whose start_unix is its scheduled send time.
LOG_FIELDS = [
    "start_unix", "latency_s", "target", "model", "outcome", "failure_kind", "scheduled",
]  # fmt: skip


class LoadFailure(Exception):
    """A failed request with a short kind (e.g. "HTTP 503", "INVALID_ARGUMENT", "wrong answer")."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def failure_kind(exception: BaseException | None) -> str | None:
    if exception is None:
        return None
    if isinstance(exception, LoadFailure):
        return exception.kind
    return type(exception).__name__


class RequestRecorder:
    def __init__(
        self,
        model: str,
        targets: list[str],
        log_dir: Path | None,
        announce_dir: Path | None,
        port: int = 0,
        listen: str = "127.0.0.1",
    ) -> None:
        self.model = model
        self.metrics = LoadMetrics()
        for target in targets:
            self.metrics.declare(target, model)
        self.port = self.metrics.serve(announce_dir, port, listen)
        self._file = None
        self._writer = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self._file = open(log_dir / f"requests-{os.getpid()}.csv", "w", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._file)
            self._writer.writerow(LOG_FIELDS)

    def on_request(self, request_type, name, response_time, response_length, exception=None,
                   context=None, **_) -> None:  # fmt: skip
        now = time.time()
        scheduled = (context or {}).get("scheduled_at")
        latency = now - scheduled if scheduled is not None else response_time / 1000.0
        kind = failure_kind(exception)
        model = (context or {}).get("model", self.model)
        self.metrics.observe(name, model, latency, kind)
        if self._writer is not None:
            start = scheduled if scheduled is not None else now - latency
            outcome = "success" if kind is None else "failure"
            self._writer.writerow(
                [f"{start:.6f}", f"{latency:.6f}", name, model, outcome, kind or "",
                 "1" if scheduled is not None else ""]
            )  # fmt: skip

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def mark_test_start(log_dir: Path | None) -> None:
    """The wall-clock start of the test, so windows (warm-up, repetitions) can be cut later."""
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        marker = log_dir / "test_start.json"
        if not marker.exists():  # in a distributed run the master and the workers all say so
            marker.write_text(json.dumps({"unix": time.time()}))
