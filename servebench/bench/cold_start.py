"""`servebench cold-start`: each server started alone, several times, timed to ready.

`up` starts both servers at once on the same CPUs, so each start time there includes the
other's; one start is an anecdote anyway. Here each server starts by itself in a fresh work
folder, on the servers' CPUs, `repeat` times, alternating servers so that a drift favours
neither. Each start records when the server first accepted a connection on its REST port
(process up) and when every model answered ready; the difference is the model load, where the
server opens its port before loading (TorchServe does; TF Serving opens it after).
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from servebench.backends.base import LaunchPlan
from servebench.backends.tfserving import TFServingBackend
from servebench.backends.torchserve import TorchServeBackend
from servebench.bench.results import write_json
from servebench.export.layout import ArtifactLayout
from servebench.models import ModelSpec
from servebench.stats import ci95, median
from servebench.target import BASELINE_SERVERS

COLD_STARTS_FILE = "cold-starts.json"
READY_TIMEOUT_S = 600.0


def measure_cold_starts(
    models: list[ModelSpec],
    layout: ArtifactLayout,
    tfserving_bin: Path | None,
    budget: dict,
    repeat: int,
) -> dict:
    """Start each server alone ``repeat`` times; ``budget``: server_cpus and server_threads."""
    servers: dict[str, dict] = {}
    for round_index in range(repeat):
        for name in ("torchserve", "tfserving"):
            print(f"cold start {round_index + 1}/{repeat}: {name} ...", file=sys.stderr, flush=True)
            implementation, real, start = _one_start(name, models, layout, tfserving_bin, budget)
            record = servers.setdefault(
                name, {"implementation": implementation, "real": real, "starts": []}
            )
            record["starts"].append(start)
            print(f"  ready in {start['ready_s']:.1f} s", file=sys.stderr, flush=True)
    for record in servers.values():
        record |= _summary(record["starts"])
    return {
        "schema_version": 1,
        "measured_at": time.time(),
        "models": [spec.name for spec in models],
        "repeat": repeat,
        "server_cpus": budget["server_cpus"],
        "server_threads": budget["server_threads"],
        "servers": servers,
    }


def matching(state_dir: Path, stack: dict) -> tuple[dict | None, str | None]:
    """(the cold starts measured for this stack's servers, models and CPU budget, or None; why
    one was left out, naming what differed)."""
    path = state_dir / COLD_STARTS_FILE
    if not path.is_file():
        return None, None
    record = json.loads(path.read_text())
    measured = {name: s["implementation"] for name, s in record["servers"].items()}
    running = {  # cold-start times the two compared servers, never a baseline
        name: b["implementation"]
        for name, b in stack["backends"].items()
        if name not in BASELINE_SERVERS
    }
    differences = []
    if measured != running:
        differences.append(f"other servers ({measured}; this stack: {running})")
    if sorted(record.get("models") or []) != sorted(stack.get("models") or []):
        differences.append(
            f"other models ({record.get('models')}; this stack: {stack.get('models')})"
        )
    for key in ("server_cpus", "server_threads"):
        if record.get(key) != stack.get(key):
            differences.append(f"another {key} ({record.get(key)}; this stack: {stack.get(key)})")
    if differences:
        return None, (
            f"{path} timed {', '.join(differences)} and is left out; run `servebench "
            "cold-start` again for time to ready"
        )
    return record, None


def save(state_dir: Path, record: dict) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / COLD_STARTS_FILE
    write_json(path, record)
    return path


def _one_start(name, models, layout, tfserving_bin, budget) -> tuple[str, bool, dict]:
    with tempfile.TemporaryDirectory(prefix=f"servebench-cold-{name}-") as workdir:
        plan = LaunchPlan(models, layout, Path(workdir), **budget)
        if name == "torchserve":
            backend = TorchServeBackend(plan)
        else:
            backend = TFServingBackend(plan, tfserving_bin)
        began = time.monotonic()
        backend.start()
        try:
            alive_s = _first_connection(backend.endpoints["rest"], began, backend)
            seconds = backend.wait_models(READY_TIMEOUT_S)
            ready_s = time.monotonic() - began  # when ready was seen, the same for both
            running = backend.describe(seconds)  # identified after, outside the time
        finally:
            backend.stop()
    start = {"alive_s": alive_s, "ready_s": ready_s, "model_load_s": max(ready_s - alive_s, 0.0)}
    return running.implementation, running.real, start


def _first_connection(url: str, began: float, backend) -> float:
    """Seconds from the start until the REST port accepts a connection."""
    address = urlparse(url)
    deadline = began + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address.hostname, address.port), timeout=0.5):
                return time.monotonic() - began
        except OSError:
            if backend.process.poll() is not None:
                return time.monotonic() - began  # wait_ready reports the exit and its log
            time.sleep(0.05)
    return time.monotonic() - began


def _summary(starts: list[dict]) -> dict:
    summary = {}
    for key in ("alive_s", "ready_s", "model_load_s"):
        values = [start[key] for start in starts]
        summary[key] = {"median": median(values), "ci95": ci95(values)}
    return summary
