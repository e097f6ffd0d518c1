"""`servebench up` / `down`: start both servers as local processes, record them, stop them."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from servebench.backends.base import LaunchPlan, RunningBackend
from servebench.backends.process import alive, stop_session
from servebench.backends.tfserving import TFServingBackend, find_binary
from servebench.backends.torchserve import TorchServeBackend
from servebench.errors import UsageError
from servebench.export.layout import ArtifactLayout
from servebench.models import ModelSpec, get_model

STACK_SCHEMA = 1
DEFAULT_STATE_DIR = Path(".servebench")
READY_TIMEOUT_S = 180.0


def default_server_threads() -> int:
    """The cores this process may use: the budget each server gets by default."""
    return len(os.sched_getaffinity(0))


def stack_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def load_stack(state_dir: Path) -> dict:
    """The running stack's record, or a UsageError saying to start one."""
    path = stack_file(state_dir)
    if not path.is_file():
        raise UsageError(f"no stack is running (no {path}); start one with `servebench up`")
    return json.loads(path.read_text())


def stack_models(stack: dict) -> list[ModelSpec]:
    return [get_model(name) for name in stack["models"]]


def up(
    models: list[ModelSpec],
    layout: ArtifactLayout,
    state_dir: Path,
    server_threads: int,
    tfserving_bin: Path | None,
) -> dict:
    """Start TorchServe and TF Serving (or its emulator), wait until every model is ready, and
    write ``stack.json``. On any failure, whatever was started is stopped again."""
    refuse_second_stack(state_dir)
    _require_artifacts(models, layout)
    plan = LaunchPlan(models, layout, state_dir.resolve(), server_threads)
    backends = [TorchServeBackend(plan), TFServingBackend(plan, find_binary(tfserving_bin))]
    try:
        for backend in backends:
            backend.start()
        with ThreadPoolExecutor(len(backends)) as pool:
            running = list(pool.map(lambda b: b.wait_ready(READY_TIMEOUT_S), backends))
    except BaseException:
        for backend in backends:
            backend.stop()
        raise
    stack = _record(models, layout, server_threads, running)
    stack_file(state_dir).write_text(json.dumps(stack, indent=2) + "\n")
    return stack


def down(state_dir: Path) -> list[str]:
    """Stop every backend ``stack.json`` names, by PID; returns what was stopped."""
    path = stack_file(state_dir)
    if not path.is_file():
        return []
    stack = json.loads(path.read_text())
    stopped = []
    for name, backend in stack["backends"].items():
        stop_session(backend["pid"])
        stopped.append(f"{name} ({backend['implementation']}, pid {backend['pid']})")
    path.unlink()
    return stopped


def refuse_second_stack(state_dir: Path) -> None:
    path = stack_file(state_dir)
    if not path.is_file():
        return
    stack = json.loads(path.read_text())
    if any(alive(backend["pid"]) for backend in stack["backends"].values()):
        raise UsageError(f"a stack is already running (see {path}); stop it with `servebench down`")
    path.unlink()  # left by a stack that died without `down`


def _require_artifacts(models: list[ModelSpec], layout: ArtifactLayout) -> None:
    for spec in models:
        for path in (layout.mar(spec.name), layout.savedmodel(spec.name) / "saved_model.pb"):
            if not path.is_file():
                raise UsageError(
                    f"{path} is missing; run `servebench export --model {spec.name} "
                    f"--out {layout.root}` first"
                )


def _record(
    models: list[ModelSpec], layout: ArtifactLayout, threads: int, running: list[RunningBackend]
) -> dict:
    return {
        "schema_version": STACK_SCHEMA,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "local",
        "models": [spec.name for spec in models],
        "artifacts": str(layout.root.resolve()),
        "server_threads": threads,
        "backends": {backend.name: backend.as_dict() for backend in running},
    }
