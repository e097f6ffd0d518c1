"""The real Prometheus binary, started beside the stack with a generated scrape config."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import requests

from servebench.backends.base import RunningBackend
from servebench.backends.detect import prometheus_implementation
from servebench.backends.process import LOCALHOST, free_port, spawn, stop_session, wait_until
from servebench.errors import UsageError
from servebench.paths import REPO_ROOT

RULES = REPO_ROOT / "services" / "prometheus" / "rules.yml"
SCRAPE_INTERVAL = "1s"


def find_prometheus() -> Path:
    found = shutil.which("prometheus")
    if not found:
        raise UsageError(
            "prometheus is not on PATH; run `make install` (it installs Debian's prometheus "
            "package) or `apt-get install -y prometheus`"
        )
    return Path(found)


def loadgen_discovery(stack: dict) -> tuple[Path | None, str]:
    """How the stack's Prometheus finds load generators: the folder where each one writes its
    exporter's address (file service discovery; None: it finds them by itself, as in k8s) and
    the address the exporter listens on (0.0.0.0 where Prometheus runs in another container)."""
    settings = stack.get("monitoring", {}).get("prometheus", {}).get("settings", {})
    folder = settings.get("loadgen_targets")
    return (Path(folder) if folder else None), settings.get("loadgen_listen", LOCALHOST)


class PrometheusServer:
    name = "prometheus"

    def __init__(self, state_dir: Path, backends: list[RunningBackend]) -> None:
        self.dir = state_dir.resolve() / "prometheus"
        self.backends = backends
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.dir / "prometheus.out"

    def render_config(self) -> dict:
        jobs = []
        for backend in self.backends:
            metrics = backend.endpoints["metrics"]
            address, _, path = metrics.removeprefix("http://").partition("/")
            jobs.append(
                {
                    "job_name": backend.name,
                    "metrics_path": "/" + path,
                    "static_configs": [
                        {"targets": [address], "labels": {"implementation": backend.implementation}}
                    ],
                }
            )
        jobs.append(
            {
                "job_name": "loadgen",
                "file_sd_configs": [
                    {"files": [str(self.dir / "loadgen" / "*.json")], "refresh_interval": "1s"}
                ],
            }
        )
        return {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [str(RULES)],
            "scrape_configs": jobs,
        }

    def start(self) -> None:
        (self.dir / "loadgen").mkdir(parents=True, exist_ok=True)
        config = self.dir / "prometheus.yml"
        # JSON is YAML, and needs no YAML writer.
        config.write_text(json.dumps(self.render_config(), indent=2))
        command = [
            str(find_prometheus()),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address={LOCALHOST}:{self.port}",
            "--storage.tsdb.retention.time=7d",
        ]
        self.process = spawn(command, self.log, {}, cwd=self.dir)

    def wait_ready(self, timeout: float) -> RunningBackend:
        seconds = wait_until(self._ready, timeout, "Prometheus", self.process, self.log)
        return RunningBackend(
            name=self.name,
            implementation=prometheus_implementation(self.url),  # what answers says
            real=True,
            pid=self.process.pid,
            endpoints={"http": self.url},
            log=str(self.log),
            ready_seconds=round(seconds, 2),
            settings={
                "config": str(self.dir / "prometheus.yml"),
                "rules": str(RULES),
                "loadgen_targets": str(self.dir / "loadgen"),
                "loadgen_listen": LOCALHOST,
            },
        )

    def _ready(self) -> bool:
        return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def stop(self) -> None:
        if self.process is not None:
            stop_session(self.process.pid)
