"""`servebench up` / `down`: start both servers (as local processes, or in Docker containers
with --mode docker), the diy baseline with --with-diy, and Prometheus, record them in
stack.json, stop them."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from servebench.backends.base import Backend, LaunchPlan, RunningBackend
from servebench.backends.diy import DiyBackend
from servebench.backends.process import alive, stop_session
from servebench.backends.tfserving import TFServingBackend, find_binary
from servebench.backends.torchserve import TorchServeBackend
from servebench.errors import UsageError
from servebench.export.layout import ArtifactLayout
from servebench.metrics.prometheus import PrometheusServer, find_prometheus
from servebench.models import ModelSpec, get_model, select_models
from servebench.stack_record import Stack

STACK_SCHEMA = 1
READY_TIMEOUT_S = 180.0


def stack_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def load_stack(state_dir: Path) -> dict:
    """The running stack's record, or a UsageError saying to start one."""
    path = stack_file(state_dir)
    if not path.is_file():
        raise UsageError(f"no stack is running (no {path}); start one with `servebench up`")
    stack = json.loads(path.read_text())
    from servebench.backends.detect import identified, identify

    if identified(stack):
        return stack
    # A record written for Compose or k8s: ask the servers what they are.
    from servebench.backends.docker_mode import ready_seconds, version_output

    try:
        return identify(stack, version_output, ready_seconds)
    except requests.RequestException as exc:
        raise UsageError(
            f"cannot reach the servers named in {path} to identify them ({type(exc).__name__}); "
            "are they running?"
        ) from None


def stack_identity(stack: dict) -> dict:
    """What tells one running stack from another: when it started, and what serves in it, as
    which process or container. Records made against a stack (the bad-input matrix) carry it."""
    return {
        "started_at": stack.get("started_at"),
        "backends": {
            name: [
                backend["implementation"],
                backend["pid"] or backend["settings"].get("container"),
            ]
            for name, backend in stack["backends"].items()
        },
    }


def stack_models(stack: dict, model: str | None = None) -> list[ModelSpec]:
    """The models a ``--model`` option names, or without one every model the stack serves; a
    user's model is the one described in the stack's artifact folder."""
    artifacts = Stack(stack).artifacts
    if model:
        return select_models(model, artifacts)
    return [get_model(name, artifacts) for name in stack["models"]]


def up(
    models: list[ModelSpec],
    layout: ArtifactLayout,
    state_dir: Path,
    plan_options: dict,
    tfserving_bin: Path | None,
    mode: str = "local",
    with_diy: bool = False,
) -> dict:
    """Start TorchServe, TF Serving (or its emulator) and Prometheus, wait until every model is
    ready, and write ``stack.json``. On any failure, whatever was started is stopped again.
    ``with_diy`` adds the diy baseline (a third arm, outside the verdict) on the same budget.

    ``plan_options`` are LaunchPlan's budget fields: server_threads, server_cpus, batch_size,
    batch_delay_ms.
    """
    refuse_second_stack(state_dir)
    require_artifacts(models, layout, with_diy)
    find_prometheus()  # fail before starting anything
    plan = LaunchPlan(models, layout, state_dir.resolve(), **plan_options)
    if mode == "docker":
        from servebench.backends.docker_mode import container_backends

        backends = container_backends(plan)
    else:
        backends = [TorchServeBackend(plan), TFServingBackend(plan, find_binary(tfserving_bin))]
    if with_diy:
        backends.append(DiyBackend(plan))
    started = []
    try:
        running = _start(backends, started)
        prometheus = PrometheusServer(state_dir, running)
        started.append(prometheus)
        prometheus.start()
        monitoring = prometheus.wait_ready(READY_TIMEOUT_S)
    except BaseException:
        for service in started:
            service.stop()
        raise
    stack = _record(models, layout, plan, running, monitoring)
    stack["mode"] = mode
    stack_file(state_dir).write_text(json.dumps(stack, indent=2) + "\n")
    return stack


def _start(backends: list[Backend], started: list) -> list[RunningBackend]:
    """Start the backends and wait until each is ready (in parallel, unless each must start
    alone), adding each to ``started`` as soon as it has something to stop."""
    if all(backend.starts_alone for backend in backends):
        running = []
        for backend in backends:
            started.append(backend)
            backend.start()
            running.append(backend.wait_ready(READY_TIMEOUT_S))
        return running
    for backend in backends:
        started.append(backend)
        backend.start()
    with ThreadPoolExecutor(len(backends)) as pool:
        return list(pool.map(lambda b: b.wait_ready(READY_TIMEOUT_S), backends))


def down(state_dir: Path) -> list[str]:
    """Stop every backend ``stack.json`` names, by PID; returns what was stopped."""
    path = stack_file(state_dir)
    if not path.is_file():
        return []
    stack = json.loads(path.read_text())
    stopped = []
    if stack.get("mode") == "docker":
        from servebench.backends.docker_mode import stop_servers

        stopped += stop_servers(stack)
    for name, service in {**stack["backends"], **stack.get("monitoring", {})}.items():
        if not service["pid"]:
            continue  # a container, stopped above
        stop_session(service["pid"])
        stopped.append(f"{name} ({service['implementation']}, pid {service['pid']})")
    path.unlink()
    return stopped


def refuse_second_stack(state_dir: Path) -> None:
    path = stack_file(state_dir)
    if not path.is_file():
        return
    stack = json.loads(path.read_text())
    services = {**stack["backends"], **stack.get("monitoring", {})}
    if any(_running(service) for service in services.values()):
        raise UsageError(f"a stack is already running (see {path}); stop it with `servebench down`")
    path.unlink()  # left by a stack that died without `down`


def _running(service: dict) -> bool:
    if service["pid"]:
        return alive(service["pid"])
    container = service.get("settings", {}).get("container")
    if not container:
        return False
    from servebench.backends.docker_mode import container_running

    return container_running(container)


def require_artifacts(
    models: list[ModelSpec], layout: ArtifactLayout, with_diy: bool = False
) -> None:
    for spec in models:
        paths = [layout.mar(spec.name), layout.savedmodel(spec.name) / "saved_model.pb"]
        for path in paths + ([layout.onnx(spec.name)] if with_diy else []):
            if not path.is_file():
                raise UsageError(
                    f"{path} is missing; run `servebench export --model {spec.name} "
                    f"--out {layout.root}` first"
                )


def _record(
    models: list[ModelSpec],
    layout: ArtifactLayout,
    plan: LaunchPlan,
    running: list[RunningBackend],
    monitoring: RunningBackend,
) -> dict:
    return {
        "schema_version": STACK_SCHEMA,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "local",
        "models": [spec.name for spec in models],
        "artifacts": str(layout.root.resolve()),
        "server_threads": plan.server_threads,
        "server_cpus": plan.server_cpus,
        "batch_size": plan.batch_size,
        "batch_delay_ms": plan.batch_delay_ms,
        "backends": {backend.name: backend.as_dict() for backend in running},
        "monitoring": {monitoring.name: monitoring.as_dict()},
    }
