"""TorchServe, the real server from the torchserve wheel, as local processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests

from servebench.backends.base import LaunchPlan, RunningBackend
from servebench.backends.detect import torchserve_implementation
from servebench.backends.http import get_json
from servebench.backends.process import (
    LOCALHOST,
    free_port,
    spawn,
    stop_session,
    wait_until,
)
from servebench.paths import REPO_ROOT

SERVICE_DIR = REPO_ROOT / "services" / "torchserve"
THREADS_ENV = "SERVEBENCH_TORCH_THREADS"  # read by services/torchserve/handler.py


class TorchServeBackend:
    """One TorchServe instance serving every planned model with one worker each.

    ``server_threads`` becomes the torch intra-op thread count of that worker (and OMP's), so
    the worker uses exactly the CPU budget TF Serving gets and the two cores are not
    oversubscribed by several workers each running its own thread pool.
    """

    name = "torchserve"
    starts_alone = False  # local servers start side by side

    def __init__(self, plan: LaunchPlan) -> None:
        self.plan = plan
        self.dir = plan.workdir / "torchserve"
        port_names = ("rest", "management", "metrics", "grpc", "grpc_management")
        self.ports = {name: free_port() for name in port_names}
        self.process: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.dir / "logs" / "torchserve.out"

    def start(self) -> None:
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        config = self.dir / "config.properties"
        config.write_text(self.render_config())
        command = [
            str(Path(sys.executable).with_name("torchserve")),
            "--start", "--foreground", "--ncs",
            "--ts-config", str(config),
            "--model-store", str(self.plan.layout.model_store.resolve()),
            "--log-config", str(SERVICE_DIR / "log4j2.xml"),
        ]  # fmt: skip
        env = {
            "TMPDIR": str(self.dir / "tmp"),  # TorchServe keeps its pid file and sockets here
            "LOG_LOCATION": str(self.dir / "logs"),
            "METRICS_LOCATION": str(self.dir / "logs"),
            THREADS_ENV: str(self.plan.server_threads),
            "OMP_NUM_THREADS": str(self.plan.server_threads),
        }
        self.process = spawn(command, self.log, env, cwd=self.dir, cpus=self.plan.server_cpus)

    def render_config(self) -> str:
        base = (SERVICE_DIR / "config.properties").read_text()
        models = {
            spec.name: {
                "1.0": {
                    "defaultVersion": True,
                    "marName": f"{spec.name}.mar",
                    "minWorkers": 1,
                    "maxWorkers": 1,
                    "batchSize": self.plan.batch_size,
                    "maxBatchDelay": self.plan.batch_delay_ms,
                }
            }
            for spec in self.plan.models
        }
        local = {
            "inference_address": f"http://{LOCALHOST}:{self.ports['rest']}",
            "management_address": f"http://{LOCALHOST}:{self.ports['management']}",
            "metrics_address": f"http://{LOCALHOST}:{self.ports['metrics']}",
            "grpc_inference_address": LOCALHOST,
            "grpc_management_address": LOCALHOST,
            "grpc_inference_port": self.ports["grpc"],
            "grpc_management_port": self.ports["grpc_management"],
            "model_store": self.plan.layout.model_store.resolve(),
            "load_models": ",".join(f"{spec.name}.mar" for spec in self.plan.models),
            "default_workers_per_model": 1,
            "job_queue_size": self.plan.queue_size,
            "models": json.dumps(models),
        }
        return base + "\n# Local instance\n" + "".join(f"{k}={v}\n" for k, v in local.items())

    def wait_ready(self, timeout: float) -> RunningBackend:
        return self.describe(self.wait_models(timeout))

    def wait_models(self, timeout: float) -> float:
        """Seconds until every model's worker is READY: the wait alone, nothing else timed."""
        return wait_until(self._all_ready, timeout, "TorchServe", self.process, self.log)

    def describe(self, seconds: float) -> RunningBackend:
        """The ready server's record, ``seconds`` its time to ready."""
        return RunningBackend(
            name=self.name,
            # Asked of the server that answers, not of the package installed beside the
            # harness, which may be another one.
            implementation=torchserve_implementation(self.endpoints["rest"]),
            real=True,
            pid=self.process.pid,
            endpoints=self.endpoints,
            log=str(self.log),
            ready_seconds=round(seconds, 2),
            settings={
                "workers_per_model": 1,
                "job_queue_size": self.plan.queue_size,
                "torch_threads": self.plan.server_threads,
                "batching": self.plan.batching,
                "batch_size": self.plan.batch_size,
                "batch_delay_ms": self.plan.batch_delay_ms,
                "cpus": self.plan.server_cpus,
                "config": str(self.dir / "config.properties"),
            },
        )

    @property
    def endpoints(self) -> dict[str, str]:
        return {
            "rest": f"http://{LOCALHOST}:{self.ports['rest']}",
            "grpc": f"{LOCALHOST}:{self.ports['grpc']}",
            "management": f"http://{LOCALHOST}:{self.ports['management']}",
            "metrics": f"http://{LOCALHOST}:{self.ports['metrics']}/metrics",
        }

    def _all_ready(self) -> bool:
        return all(
            worker_pids(self.endpoints["management"], spec.name) for spec in self.plan.models
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_session(self.process.pid)


def worker_pids(management: str, model: str) -> list[int]:
    """The PIDs of the model's workers once every one is READY; empty until then."""
    versions = get_json(f"{management}/models/{model}") or []
    workers = [worker for version in versions for worker in version.get("workers", [])]
    if not workers or any(worker.get("status") != "READY" for worker in workers):
        return []
    return [int(worker["pid"]) for worker in workers]


def register_version(management: str, mar: str, settings: dict) -> None:
    """Register the archive ``mar`` (a file in the model store) with one worker and the
    stack's batching, and return once its worker is ready."""
    params = {
        "url": mar,
        "initial_workers": 1,
        "synchronous": "true",
        "batch_size": settings.get("batch_size", 1),
        "max_batch_delay": settings.get("batch_delay_ms", 0),
    }
    _management(requests.post, f"{management}/models", params)


def set_default_version(management: str, model: str, version: str) -> None:
    _management(requests.put, f"{management}/models/{model}/{version}/set-default")


def unregister_version(management: str, model: str, version: str) -> None:
    _management(requests.delete, f"{management}/models/{model}/{version}")


def registered_versions(management: str, model: str) -> list[str]:
    versions = get_json(f"{management}/models/{model}/all", timeout=10) or []
    return [version["modelVersion"] for version in versions]


def _management(method, url: str, params: dict | None = None) -> None:
    reply = method(url, params=params, timeout=120)
    if reply.status_code != 200:
        raise RuntimeError(f"TorchServe's management API said {reply.status_code}: {reply.text}")
