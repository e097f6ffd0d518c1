"""Shared by the container tests: an engine that answers, fresh copies of the checkout, and
what Docker itself says about a compose project."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO


def require_engine() -> None:
    """Skip, saying why, where no Docker engine answers (`make engine` starts one as root);
    in CI, where `make test` runs as root and starts one, a skip is a failure."""
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        answered, detail = result.returncode == 0, (result.stderr or "").strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        answered, detail = False, str(exc)
    if answered:
        return
    reason = f"no Docker engine answers ({detail[-160:]}); `make engine` starts one as root"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def fresh_checkout(destination: Path) -> Path:
    """The checkout's files as a clone would have them: tracked and not ignored, no artifacts,
    results, venv or .env."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def image_present(image: str) -> bool:
    inspected = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return inspected.returncode == 0


def project_objects(project: str) -> dict[str, list[str]]:
    """Containers, volumes and networks that Docker labels as the compose project's."""
    label = f"label=com.docker.compose.project={project}"
    found = {}
    for kind, command in (
        ("containers", ["docker", "ps", "-aq", "--filter", label]),
        ("volumes", ["docker", "volume", "ls", "-q", "--filter", label]),
        ("networks", ["docker", "network", "ls", "-q", "--filter", label]),
    ):
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        found[kind] = output.split()
    return found


def assert_a_clean_rollout(entry: dict) -> None:
    """A rollout result that went right: version 2 reached and version 1 back, no step failed,
    no old-version answer after a switch, and every request counted once."""
    steps, answers = entry["rollout"]["steps"], entry["rollout"]["answers"]
    assert [(s["label"], s["to"]) for s in steps] == [("rollout", 2), ("rollback", 1)]
    for step in steps:
        assert "error" not in step and step["all_new_s"] is not None, (entry["target"], step)
        assert step["old_after_all_new"] == 0, (entry["target"], step)
    assert answers["v1"] > 0 and answers["v2"] > 0 and answers["wrong"] == 0, answers
    counted = answers["v1"] + answers["v2"] + answers["wrong"] + answers["failed"]
    assert counted == answers["requests"], answers
