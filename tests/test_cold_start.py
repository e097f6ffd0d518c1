"""`servebench cold-start`: each real server (and the emulator) started alone, three times."""

import json
import sys
import time

import pytest

from servebench.bench.cold_start import _one_start, matching
from servebench.models import MODELS
from servebench.report.verdict import findings

from .conftest import run_cli


def test_each_server_starts_alone_three_times_and_the_verdict_compares_them(artifacts, tmp_path):
    result = run_cli("cold-start", "--model", "mlp", "--artifacts", str(artifacts.root),
                     "--state-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / "cold-starts.json").read_text())
    assert record["models"] == ["mlp"] and record["repeat"] == 3
    assert record["servers"]["tfserving"]["implementation"] == "tfserving-emulator"
    for name, server in record["servers"].items():
        assert len(server["starts"]) == 3, name
        for start in server["starts"]:
            assert 0 < start["alive_s"] <= start["ready_s"] < 300
        assert server["ready_s"]["ci95"]["n"] == 3
    assert "torchserve (torchserve 0.12.0): ready in" in result.stdout
    # Nothing is left running: every start was stopped by its PID.
    assert "servebench-cold-" not in _process_table()

    (ready,) = [f for f in findings({"cold_starts": record}, None, None)]
    assert ready.criterion == "time to ready" and ready.scope.startswith("cold start alone, 3+")


SERVERS = {"torchserve": "torchserve 0.12.0", "tfserving": "tfserving-emulator"}


def measured_for(tmp_path, **budget) -> dict:
    """A cold-starts.json in ``tmp_path`` as `servebench cold-start --model mlp` writes it."""
    record = {
        "models": ["mlp"],
        "server_cpus": [0],
        "server_threads": 1,
        "servers": {name: {"implementation": impl} for name, impl in SERVERS.items()},
    } | budget
    (tmp_path / "cold-starts.json").write_text(json.dumps(record))
    return record


def stack_like(**changes) -> dict:
    """A stack record that matches ``measured_for``'s, but for ``changes``."""
    stack = {
        "models": ["mlp"],
        "server_cpus": [0],
        "server_threads": 1,
        "backends": {name: {"implementation": impl} for name, impl in SERVERS.items()},
    }
    return stack | changes


def test_cold_starts_of_other_servers_are_left_out(tmp_path):
    record = measured_for(tmp_path)
    real = stack_like(backends={"torchserve": {"implementation": "torchserve 0.12.0"},
                                "tfserving": {"implementation": "TF Serving 2.20"}})  # fmt: skip
    kept, why = matching(tmp_path, real)
    assert kept is None and "timed other servers" in why
    assert matching(tmp_path, stack_like()) == (record, None)
    # The same models in another order are the same models.
    record = measured_for(tmp_path, models=["resnet18", "mlp"])
    assert matching(tmp_path, stack_like(models=["mlp", "resnet18"])) == (record, None)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        (
            {"models": ["resnet18", "mlp"]},
            "other models (['mlp']; this stack: ['resnet18', 'mlp'])",
        ),
        ({"server_cpus": [1]}, "another server_cpus ([0]; this stack: [1])"),
        ({"server_threads": 2}, "another server_threads (1; this stack: 2)"),
    ],
)
def test_cold_starts_of_other_models_or_cpus_are_left_out_saying_which(tmp_path, changes, named):
    measured_for(tmp_path)
    kept, why = matching(tmp_path, stack_like(**changes))
    assert kept is None and named in why and "\n" not in why
    assert "other servers" not in why  # the servers were the same


def test_time_to_ready_ends_when_ready_is_seen_not_after_identifying(artifacts, tmp_path):
    # A tensorflow_model_server whose --version takes seconds (identifying it does); the
    # server itself is the emulator. Time to ready must not include that --version.
    slow = 5.0
    fake = tmp_path / "tensorflow_model_server"
    fake.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = --version ] && {{ sleep {slow}; echo "TensorFlow ModelServer: 2.20.0"; }}'
        " && exit 0\n"
        f'exec {sys.executable} -m servebench.backends.tfserving_emulator "$@"\n'
    )
    fake.chmod(0o755)
    budget = {"server_cpus": [0], "server_threads": 1}
    began = time.monotonic()
    implementation, real, start = _one_start("tfserving", [MODELS["mlp"]], artifacts, fake, budget)
    took = time.monotonic() - began
    assert implementation == "tfserving-emulator" and real is False  # it was asked, after
    assert 0 < start["alive_s"] <= start["ready_s"]
    assert start["ready_s"] + slow <= took, (start, took)


def _process_table() -> str:
    import psutil

    return "\n".join(" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))
