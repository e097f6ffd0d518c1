"""Faults injected into a server under load (`bench --scenario fault`), and what they cost.

Two kinds, both SIGKILL, as a crash would be:
- ``worker``: TorchServe's Python worker process; TorchServe's frontend starts a new one.
- ``server``: the whole server process in its container; the container's restart policy
  starts it again. A local process has no supervisor, so nothing would bring it back: that
  is refused, and the refusal is itself the deployment fact.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

from servebench.errors import UsageError
from servebench.request_log import RequestLog, read_test_start

KINDS = ("worker", "server")
# Where in the measured part of the run the fault lands: a third in, so that the time before
# and the time after it are both measured.
AT_FRACTION = 1 / 3
# In a container started with an init (compose's and docker mode's `init: true`), PID 1 is the
# init and the server is its child.
SERVER_CHILDREN = "cat /proc/1/task/1/children"


def check_fault(kind: str, target: str, backend: dict) -> None:
    """One line saying what to do, before any load, when ``kind`` cannot be injected here."""
    container = backend.get("settings", {}).get("container")
    if kind == "worker" and not target.startswith("torchserve"):
        raise UsageError(
            "--fault worker kills TorchServe's worker process; TF Serving is one process: "
            "use --fault server (in containers)"
        )
    if kind == "server" and not container:
        raise UsageError(
            "--fault server needs a restart policy to bring the server back, and a local "
            "process has none: run it against `up --mode docker` or compose"
        )


def inject(kind: str, backend: dict, model: str) -> dict:
    """Kill the worker or the server of ``backend`` now; what was killed, and when."""
    container = backend.get("settings", {}).get("container")
    if kind == "worker":
        from servebench.backends.torchserve import worker_pids

        (pid,) = worker_pids(backend["endpoints"]["management"], model)[:1]
        _kill(pid, container)
        return {"kind": kind, "pid": pid, "injected_unix": time.time()}
    restarts = _restart_count(container)
    pids = _exec(container, SERVER_CHILDREN).split()
    injected = time.time()
    _exec(container, f"kill -9 {' '.join(pids)}")
    return {"kind": kind, "pid": int(pids[0]), "injected_unix": injected, "restarts": restarts}


def _kill(pid: int, container: str | None) -> None:
    if container:
        _exec(container, f"kill -9 {pid}")  # the PID is the container's own
    else:
        os.kill(pid, signal.SIGKILL)


def _exec(container: str, command: str) -> str:
    from servebench.backends.docker_mode import connect

    result = connect().containers.get(container).exec_run(["bash", "-c", command])
    if result.exit_code != 0:
        raise UsageError(f"`{command}` in {container[:12]} failed: {result.output[-200:]!r}")
    return result.output.decode()


def _restart_count(container: str) -> int:
    from servebench.backends.docker_mode import connect

    return connect().containers.get(container).attrs["RestartCount"]


class FaultInjector(threading.Thread):
    """Waits for Locust's test start (the request log's marker), then ``at_s`` seconds, then
    injects the fault. ``record`` says what was done, or why nothing was."""

    def __init__(self, kind: str, backend: dict, model: str, log_dir: Path, at_s: float) -> None:
        super().__init__(daemon=True)
        self.kind, self.backend, self.model = kind, backend, model
        self.log_dir, self.at_s = log_dir, at_s
        self.record: dict = {"kind": kind, "injected_unix": None}
        self.cancelled = threading.Event()

    def run(self) -> None:
        while (start := read_test_start(self.log_dir)) is None:
            if self.cancelled.wait(0.2):
                return
        if self.cancelled.wait(max(start + self.at_s - time.time(), 0)):
            return
        try:
            self.record = inject(self.kind, self.backend, self.model)
        except Exception as exc:  # noqa: BLE001 (said in the results, never lost)
            self.record["error"] = f"{type(exc).__name__}: {exc}"

    def finish(self) -> dict:
        self.cancelled.set()
        self.join(timeout=30)
        record = dict(self.record)
        if record.get("restarts") is not None:
            after = _restart_count(self.backend["settings"]["container"])
            record["restarts"] = after - record["restarts"]
            if record["restarts"]:
                record |= restart_timing(self.backend, self.model, record["injected_unix"])
        return record


def restart_timing(backend: dict, model: str, injected: float) -> dict:
    """When the restart policy started the container again after the kill, and how long the
    server in it then took to load the model (from its timestamped log)."""
    from servebench.backends.detect import parse_docker_time
    from servebench.backends.docker_mode import connect, ready_seconds

    state = connect().containers.get(backend["settings"]["container"]).attrs["State"]
    restarted = parse_docker_time(state["StartedAt"]).timestamp()
    return {
        "restarted_after_s": round(restarted - injected, 3),
        "model_loaded_after_restart_s": ready_seconds(backend["name"], backend, [model]),
    }


def recovery(log: RequestLog, injected: float) -> dict:
    """What the fault cost the clients: failed requests after it, and the outage, the longest
    stretch after the fault with no successful reply; ``recovered_after_s`` runs from the
    fault to the end of that stretch, when replies succeed again."""
    after = log.end >= injected
    successes = np.sort(log.end[after & log.success])
    failures = int((after & ~log.success).sum())
    if successes.size == 0:
        return {"failed_after": failures, "outage_s": None, "recovered_after_s": None}
    edges = np.concatenate(([injected], successes))
    gaps = np.diff(edges)
    longest = int(np.argmax(gaps))
    return {
        "failed_after": failures,
        "outage_s": round(float(gaps[longest]), 3),
        "recovered_after_s": round(float(edges[longest + 1] - injected), 3),
    }
