"""The diy baseline (`up --with-diy`) as a local process: servebench.backends.diy_server on the
servers' CPUs with the servers' thread budget. A third arm, never part of the verdict."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import requests

from servebench.backends.base import LaunchPlan, RunningBackend
from servebench.backends.process import LOCALHOST, free_port, spawn, stop_session, wait_until

NAME = "diy"


def implementation() -> str:
    """What serves the diy arm, short enough for the tables; the web stack's versions are in
    its settings."""
    return f"diy starlette+onnxruntime {metadata.version('onnxruntime')}"


class DiyBackend:
    """One uvicorn process serving every planned model through ONNX Runtime, with
    ``server_threads`` intra-op threads, pinned to ``server_cpus`` like the other servers."""

    name = NAME
    starts_alone = False  # local servers start side by side

    def __init__(self, plan: LaunchPlan) -> None:
        self.plan = plan
        self.dir = plan.workdir / NAME
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.dir / "logs" / "diy.out"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "servebench.backends.diy_server",
            "--port", str(self.port),
            "--artifacts", str(self.plan.layout.root.resolve()),
            "--threads", str(self.plan.server_threads),
        ]  # fmt: skip
        for spec in self.plan.models:
            command += ["--model", spec.name]
        env = {"OMP_NUM_THREADS": str(self.plan.server_threads)}
        self.process = spawn(command, self.log, env, cwd=self.dir, cpus=self.plan.server_cpus)

    @property
    def endpoints(self) -> dict[str, str]:
        rest = f"http://{LOCALHOST}:{self.port}"
        return {"rest": rest, "metrics": f"{rest}/metrics"}

    def wait_ready(self, timeout: float) -> RunningBackend:
        seconds = wait_until(self._ready, timeout, "diy server", self.process, self.log)
        return RunningBackend(
            name=self.name,
            implementation=implementation(),
            real=True,  # a real server of its own kind; the verdict leaves it out by name
            pid=self.process.pid,
            endpoints=self.endpoints,
            log=str(self.log),
            ready_seconds=round(seconds, 2),
            settings={
                "intra_op_threads": self.plan.server_threads,
                "inter_op_threads": 1,
                "concurrent_inferences": 1,
                "batching": False,
                "cpus": self.plan.server_cpus,
                "arm": "baseline, not in the verdict",
                "web": f"starlette {metadata.version('starlette')}, uvicorn "
                f"{metadata.version('uvicorn')}",
            },
        )

    def _ready(self) -> bool:
        reply = requests.get(f"{self.endpoints['rest']}/ping", timeout=2)
        served = set(reply.json().get("models", [])) if reply.status_code == 200 else set()
        return served >= {spec.name for spec in self.plan.models}

    def stop(self) -> None:
        if self.process is not None:
            stop_session(self.process.pid)
