"""Every completed request, twice: into the Prometheus histogram and into a CSV log.

Open-loop requests carry their scheduled send time in the event context; their latency is
measured from it, so queueing in front of an overloaded server is not hidden (coordinated
omission). Closed-loop requests use Locust's own response time, plus the time the power check
held them before sending (``held_s``), which Locust did not see. Every request's context names
the model it was sent to, which is what it is counted under: a model picked in Locust's web UI
differs from the one the process started with.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from servebench.metrics.exporter import LoadMetrics
from servebench.request_log import LogWriter


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
        self._log = LogWriter(log_dir, os.getpid()) if log_dir is not None else None

    def on_request(self, request_type, name, response_time, response_length, exception=None,
                   context=None, **_) -> None:  # fmt: skip
        now = time.time()
        scheduled = (context or {}).get("scheduled_at")
        held = (context or {}).get("held_s", 0.0)  # the power check's known difference
        latency = now - scheduled if scheduled is not None else response_time / 1000.0 + held
        kind = failure_kind(exception)
        model = (context or {}).get("model", self.model)
        self.metrics.observe(name, model, latency, kind)
        if self._log is not None:
            start = scheduled if scheduled is not None else now - latency
            version = (context or {}).get("version")
            self._log.write(start, latency, name, model, kind, scheduled is not None, version)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
