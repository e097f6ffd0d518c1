"""results/<run-id>/: results.json (versioned) and manifest.json, written as the run goes."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

from servebench.paths import REPO_ROOT

RESULTS_SCHEMA = 1
PACKAGES = ("torch", "tensorflow", "torchserve", "locust", "prometheus-client", "grpcio", "numpy")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def write_json(path: Path, document: dict) -> None:
    """Write atomically, so an interrupted run never leaves half a file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.rename(path)


def manifest(stack: dict, loadgen: dict) -> dict:
    return {
        "schema_version": RESULTS_SCHEMA,
        "git_sha": _git_sha(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "cpu": {"model": _cpu_model(), "cores": _cores()},
        "implementations": {
            name: {"implementation": b["implementation"], "real": b["real"]}
            for name, b in {**stack["backends"], **stack.get("monitoring", {})}.items()
        },
        "servers": {name: b["settings"] for name, b in stack["backends"].items()},
        "server_configs": _config_texts(stack),
        "server_cpus": stack.get("server_cpus"),
        "server_threads": stack.get("server_threads"),
        "loadgen": loadgen,
    }


def _config_texts(stack: dict) -> dict:
    texts = {}
    for name, backend in stack["backends"].items():
        for key in ("config", "model_config"):
            path = backend["settings"].get(key)
            if path and Path(path).is_file():
                texts[name] = Path(path).read_text()
    return texts


def _git_sha() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() or "unknown"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _cores() -> int:
    import os

    return os.cpu_count() or 0
