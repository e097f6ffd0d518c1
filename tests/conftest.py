import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from servebench.export.exporter import export_model  # noqa: E402
from servebench.export.layout import ArtifactLayout  # noqa: E402
from servebench.models import DEFAULT_MAX_BATCH, MODELS  # noqa: E402
from servebench.models.weights import seeded_state  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "servebench" / "bench" / "results.schema.json").read_text())


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--tfserving-bin",
        default=None,
        help="tests/test_tfserving_conformance.py: start this tensorflow_model_server "
        "instead of the servebench TF Serving emulator",
    )


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> ArtifactLayout:
    """Both models exported once, with default seeded weights, for the whole session."""
    layout = ArtifactLayout(tmp_path_factory.mktemp("artifacts"))
    for spec in MODELS.values():
        export_model(spec, seeded_state(spec, 0), layout, DEFAULT_MAX_BATCH, lambda _: None)
    return layout


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real `servebench` command, in a child process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "servebench", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=600,
    )


def bench(stack, out: Path, *args: str) -> dict:
    """`servebench bench` run from ``out``'s parent with a relative --out, as a user would."""
    out.mkdir(parents=True, exist_ok=True)
    if "--state-dir" not in args:
        args = ("--state-dir", stack["state_dir"], *args)
    if "--calibrate-seconds" not in args:  # short ceilings: these runs check behaviour
        args = (*args, "--calibrate-seconds", "2s")
    result = run_cli("bench", "--out", out.name, *args, cwd=out.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = list(out.iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return {"results": results, "dir": run_dir, "stdout": result.stdout}


@pytest.fixture(scope="session")
def stack(artifacts, tmp_path_factory):
    """Both servers started by the real `servebench up`, stopped by `servebench down` after."""
    state_dir = tmp_path_factory.mktemp("state")
    result = run_cli("up", "--artifacts", str(artifacts.root), "--state-dir", str(state_dir))
    assert result.returncode == 0, result.stderr
    record = json.loads((state_dir / "stack.json").read_text())
    record["state_dir"] = str(state_dir)
    yield record
    run_cli("down", "--state-dir", str(state_dir))


@pytest.fixture(scope="session")
def calibrated(stack) -> dict:
    """The real `servebench calibrate` of mlp's three cases (REST binary and JSON, gRPC), 2 s
    each, into the stack's state folder: what calibrate's test reads, and what the steady run
    then finds measured for its CPUs instead of measuring the same cases again."""
    result = run_cli("calibrate", "--duration", "2s", "--model", "mlp",
                     "--state-dir", stack["state_dir"])  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    calibration = json.loads((Path(stack["state_dir"]) / "calibration.json").read_text())
    return {"stdout": result.stdout, "cases": calibration["cases"]}


@pytest.fixture(scope="session")
def steady(stack, calibrated, tmp_path_factory):
    """The bad-input matrix, then a short steady run of every target on mlp with the in-process
    limits: what bench's tests and the report's read. The load generator's ceilings are those
    `calibrated` measured."""
    probe = run_cli("probe-bad-inputs", "--model", "mlp", "--state-dir", stack["state_dir"])
    assert probe.returncode == 0, probe.stderr
    out = tmp_path_factory.mktemp("steady")
    # windows of 3 s: PromQL's increase() needs several 1 s scrapes inside a window
    return bench(stack, out, "--scenario", "steady", "--model", "mlp", "--duration", "3s",
                 "--warmup", "2s", "--repeat", "2", "--users", "2",
                 "--limits-seconds", "3")  # fmt: skip


def stack_pids(record: dict) -> list[int]:
    """Every process in the stack's backends' sessions, alive now."""
    from servebench.backends.process import session_tree

    services = {**record["backends"], **record.get("monitoring", {})}.values()
    return sorted({pid for service in services for pid in session_tree(service["pid"])})
