"""TF Serving: the real tensorflow_model_server when one is available, else the emulator."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from servebench.backends.base import LaunchPlan, RunningBackend
from servebench.backends.detect import tfserving_implementation
from servebench.backends.http import get_json
from servebench.backends.process import LOCALHOST, free_port, spawn, stop_session, wait_until
from servebench.errors import UsageError
from servebench.export.layout import FIRST_VERSION, ArtifactLayout
from servebench.models import ModelSpec
from servebench.paths import REPO_ROOT

SERVICE_DIR = REPO_ROOT / "services" / "tfserving"
BINARY = "tensorflow_model_server"
METRICS_PATH = "/monitoring/prometheus/metrics"


def find_binary(explicit: Path | None) -> Path | None:
    """The real server: ``--tfserving-bin`` if given, else one on PATH, else None."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"--tfserving-bin {explicit} does not exist; pass the binary's path")
        return explicit
    found = shutil.which(BINARY)
    return Path(found) if found else None


class TFServingBackend:
    """One TF Serving process serving every planned model, with the same thread budget as
    TorchServe: ``server_threads`` intra-op threads and one inter-op thread."""

    name = "tfserving"
    starts_alone = False  # local servers start side by side

    def __init__(self, plan: LaunchPlan, binary: Path | None) -> None:
        self.plan = plan
        self.binary = binary
        self.dir = plan.workdir / "tfserving"
        self.ports = {"grpc": free_port(), "rest": free_port()}
        self.process: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.dir / "logs" / "tfserving.out"

    @property
    def model_base(self) -> Path:
        return self.dir / "models"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        place_first_versions(self.model_base, self.plan.models, self.plan.layout)
        models_config = self.dir / "models.config"
        models_config.write_text(self.render_models_config())
        flags = [
            f"--port={self.ports['grpc']}",
            f"--rest_api_port={self.ports['rest']}",
            f"--model_config_file={models_config}",
            f"--monitoring_config_file={SERVICE_DIR / 'monitoring.config'}",
            f"--tensorflow_intra_op_parallelism={self.plan.server_threads}",
            "--tensorflow_inter_op_parallelism=1",
        ]
        if self.plan.batching:
            flags += ["--enable_batching", f"--batching_parameters_file={self._batching_file()}"]
        if self.binary is None:
            program = [sys.executable, "-m", "servebench.backends.tfserving_emulator"]
        else:
            program = [str(self.binary)]
        env = {"TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": str(self.plan.server_threads)}
        self.process = spawn(
            [*program, *flags], self.log, env, cwd=self.dir, cpus=self.plan.server_cpus
        )

    def _enqueued_batches(self) -> int:
        """As many requests queued as TorchServe's job_queue_size allows, in batches."""
        return -(-self.plan.queue_size // self.plan.batch_size)

    def _batching_file(self) -> Path:
        if self.binary is None:
            raise UsageError(
                "the TF Serving emulator does not batch; batching needs tensorflow_model_server "
                "(--tfserving-bin), or run without --batch-size"
            )
        path = self.dir / "batching.config"
        path.write_text(
            f"max_batch_size {{ value: {self.plan.batch_size} }}\n"
            f"batch_timeout_micros {{ value: {self.plan.batch_delay_ms * 1000} }}\n"
            f"num_batch_threads {{ value: {self.plan.server_threads} }}\n"
            f"max_enqueued_batches {{ value: {self._enqueued_batches()} }}\n"
        )
        return path

    def render_models_config(self) -> str:
        entries = "".join(
            f'  config {{ name: "{spec.name}" '
            f'base_path: "{self.model_base.resolve() / spec.name}" '
            f'model_platform: "tensorflow" }}\n'
            for spec in self.plan.models
        )
        return f"model_config_list {{\n{entries}}}\n"

    @property
    def endpoints(self) -> dict[str, str]:
        rest = f"http://{LOCALHOST}:{self.ports['rest']}"
        return {
            "rest": rest,
            "grpc": f"{LOCALHOST}:{self.ports['grpc']}",
            "metrics": rest + METRICS_PATH,
        }

    def wait_ready(self, timeout: float) -> RunningBackend:
        return self.describe(self.wait_models(timeout))

    def wait_models(self, timeout: float) -> float:
        """Seconds until every model is AVAILABLE: the wait alone, nothing else timed."""
        what = "TF Serving emulator" if self.binary is None else BINARY
        return wait_until(self._all_available, timeout, what, self.process, self.log)

    def describe(self, seconds: float) -> RunningBackend:
        """The ready server's record, ``seconds`` its time to ready. Identifying it runs
        `--version`, which takes time that is not the server's: it comes after the wait."""
        # Asked of what answers, not inferred from what was started: a --tfserving-bin may be
        # anything, and only a real server's --version names TensorFlow ModelServer.
        version = _version_output(self.binary) if self.binary else None
        implementation, real = tfserving_implementation(
            self.endpoints["rest"], self.plan.models[0].name, version
        )
        return RunningBackend(
            name=self.name,
            implementation=implementation,
            real=real,
            pid=self.process.pid,
            endpoints=self.endpoints,
            log=str(self.log),
            ready_seconds=round(seconds, 2),
            settings={
                "intra_op_threads": self.plan.server_threads,
                "request_queue": (
                    f"max_enqueued_batches {self._enqueued_batches()}"
                    if self.plan.batching
                    else "none to bound: without batching, requests wait for a thread"
                ),
                "inter_op_threads": 1,
                "batching": self.plan.batching,
                "batch_size": self.plan.batch_size,
                "batch_delay_ms": self.plan.batch_delay_ms,
                "cpus": self.plan.server_cpus,
                "model_config": str(self.dir / "models.config"),
                "model_base": str(self.model_base.resolve()),
            },
        )

    def _all_available(self) -> bool:
        return all(model_available(self.endpoints["rest"], spec.name) for spec in self.plan.models)

    def stop(self) -> None:
        if self.process is not None:
            stop_session(self.process.pid)


def model_available(rest: str, model: str) -> bool:
    states = [status.get("state") for status in _version_statuses(rest, model)]
    return bool(states) and all(state == "AVAILABLE" for state in states)


def place_first_versions(base: Path, models: list[ModelSpec], layout: ArtifactLayout) -> None:
    """TF Serving loads the newest version folder under a model's base. The base it reads is
    the stack's own and holds version 1 alone, so a version 2 that export wrote beside it waits
    for a rollout to put it in place."""
    for spec in models:
        folder = base / spec.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        place_version(base, spec.name, FIRST_VERSION, layout)


def keep_first_versions(base: Path, models: list[ModelSpec], layout: ArtifactLayout) -> list[str]:
    """Compose's export: put version 1 of each model in ``base`` where it is missing or differs
    from export's, and leave an identical one alone, so that a second `docker compose up` never
    makes the running TF Serving reload what it serves. Returns the models placed."""
    placed = []
    for spec in models:
        folder = base / spec.name / str(FIRST_VERSION)
        exported = layout.savedmodel(spec.name, FIRST_VERSION)
        if folder.is_dir() and _tree_digest(folder) == _tree_digest(exported):
            continue
        (base / spec.name).mkdir(parents=True, exist_ok=True)
        if folder.is_dir():
            withdraw_version(base, spec.name, FIRST_VERSION)
        place_version(base, spec.name, FIRST_VERSION, layout)
        placed.append(spec.name)
    return placed


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def place_version(base: Path, model: str, version: int, layout: ArtifactLayout) -> None:
    """Put export's version folder in place under ``base``, whole, in one rename, as an
    operator does: TF Serving never sees it half there. A copy, not a link, so that a server in
    a container, which mounts the base alone, reads it too."""
    folder = base / model / str(version)
    staged = folder.with_name(f".{version}.staged")  # not a number: TF Serving skips it
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(layout.savedmodel(model, version), staged)
    os.rename(staged, folder)


def withdraw_version(base: Path, model: str, version: int) -> None:
    """Take a version folder away in one rename; the version policy then serves the newest one
    left."""
    folder = base / model / str(version)
    gone = folder.with_name(f".{version}.withdrawn")
    shutil.rmtree(gone, ignore_errors=True)
    os.rename(folder, gone)
    shutil.rmtree(gone)


def available_versions(rest: str, model: str) -> list[int]:
    """The model's versions the server reports AVAILABLE now; empty when it cannot say."""
    statuses = _version_statuses(rest, model)
    return sorted(int(s["version"]) for s in statuses if s.get("state") == "AVAILABLE")


def _version_statuses(rest: str, model: str) -> list[dict]:
    """TF Serving's model status API: each version's state; empty when it cannot say."""
    return (get_json(f"{rest}/v1/models/{model}") or {}).get("model_version_status", [])


def _version_output(binary: Path) -> str:
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr
