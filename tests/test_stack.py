"""`servebench up` / `down` with the real TorchServe and the TF Serving emulator."""

import json
import os
import re
import sys
from pathlib import Path

import psutil
import requests

from servebench.backends.process import alive
from servebench.backends.torchserve import worker_pids
from servebench.clients import make_client
from servebench.models import MODELS
from servebench.payloads import sample_batch

from .conftest import run_cli, stack_pids


def test_stack_records_both_backends_and_their_implementations(stack):
    torchserve, tfserving = stack["backends"]["torchserve"], stack["backends"]["tfserving"]
    assert torchserve["implementation"] == "torchserve 0.12.0" and torchserve["real"] is True
    assert torchserve["implementation"] == served_version(torchserve)
    assert tfserving["implementation"] == "tfserving-emulator" and tfserving["real"] is False
    for backend in (torchserve, tfserving):
        assert psutil.pid_exists(backend["pid"])
        assert backend["ready_seconds"] > 0
        assert all("127.0.0.1:" in url for url in backend["endpoints"].values())
    assert stack["models"] == ["resnet18", "mlp"]


def test_every_model_is_really_ready(stack):
    torchserve = stack["backends"]["torchserve"]["endpoints"]
    for model in stack["models"]:
        assert len(worker_pids(torchserve["management"], model)) == 1
        status = requests.get(
            f"{stack['backends']['tfserving']['endpoints']['rest']}/v1/models/{model}"
        ).json()
        assert status["model_version_status"][0]["state"] == "AVAILABLE"


def test_servers_listen_on_loopback_only(stack):
    listening = [
        conn.laddr.ip
        for pid in stack_pids(stack)
        for conn in psutil.Process(pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 8  # TorchServe: 5 ports; the emulator: REST and gRPC; Prometheus
    assert set(listening) <= {"127.0.0.1", "::ffff:127.0.0.1"}  # Java reports IPv4-mapped form


def test_torchserve_runs_with_the_planned_budget(stack):
    config = Path(stack["backends"]["torchserve"]["settings"]["config"]).read_text()
    assert "metrics_mode=prometheus" in config
    assert "disable_token_authorization=true" in config
    assert '"minWorkers": 1, "maxWorkers": 1' in config
    threads = stack["server_threads"]
    assert stack["backends"]["torchserve"]["settings"]["torch_threads"] == threads
    assert stack["backends"]["tfserving"]["settings"]["intra_op_threads"] == threads


def test_torchserve_exports_prometheus_metrics(stack):
    spec = MODELS["mlp"]
    with make_client("torchserve-rest", stack, spec) as client:
        client.predict(sample_batch(spec, 1))
    metrics = requests.get(stack["backends"]["torchserve"]["endpoints"]["metrics"], timeout=5).text
    assert re.search(r'ts_inference_requests_total\{[^}]*model_name="mlp"[^}]*\} [1-9]', metrics)
    assert "ts_inference_latency_microseconds" in metrics


def test_second_up_is_refused_in_one_line(stack, artifacts):
    result = run_cli("up", "--artifacts", str(artifacts.root), "--state-dir", stack["state_dir"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"servebench up: a stack is already running (see {stack['state_dir']}/stack.json); "
        "stop it with `servebench down`"
    ]


def test_down_with_nothing_running_says_so(tmp_path):
    result = run_cli("down", "--state-dir", str(tmp_path))
    assert result.returncode == 0
    assert "nothing to stop" in result.stdout


def test_up_without_artifacts_says_to_export(tmp_path):
    result = run_cli(
        "up", "--model", "mlp", "--artifacts", str(tmp_path), "--state-dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "servebench export --model mlp" in result.stderr
    assert "Traceback" not in result.stderr
    assert "starting" not in result.stdout  # nothing is said to start that cannot


def served_version(backend: dict) -> str:
    """TorchServe's version as the running server states it, over the wire."""
    description = requests.get(f"{backend['endpoints']['rest']}/api-description", timeout=10)
    return f"torchserve {description.json()['info']['version']}"


def test_down_leaves_no_process_behind_and_a_binary_is_judged_by_what_answers(
    artifacts, tmp_path, monkeypatch
):
    # A --tfserving-bin that claims TF Serving's version but runs the emulator: what answers
    # decides what the record says, not the flag.
    fake = tmp_path / "tensorflow_model_server"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1" = --version ] && { echo "TensorFlow ModelServer: 2.20.0-fake"; exit 0; }\n'
        f'exec {sys.executable} -m servebench.backends.tfserving_emulator "$@"\n'
    )
    fake.chmod(0o755)
    # And a torchserve package metadata beside the harness that names another version than
    # the server it starts: the record names what answers, not what is installed.
    claimed = tmp_path / "claimed" / "torchserve-9.9.9.dist-info"
    claimed.mkdir(parents=True)
    (claimed / "METADATA").write_text("Metadata-Version: 2.1\nName: torchserve\nVersion: 9.9.9\n")
    monkeypatch.setenv("PYTHONPATH", str(claimed.parent), prepend=os.pathsep)
    result = run_cli(
        "up", "--model", "mlp", "--artifacts", str(artifacts.root), "--state-dir", str(tmp_path),
        "--server-threads", "1", "--tfserving-bin", str(fake),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "stack.json").read_text())
    assert record["backends"]["tfserving"]["implementation"] == "tfserving-emulator"
    assert record["backends"]["tfserving"]["real"] is False
    torchserve = record["backends"]["torchserve"]
    assert torchserve["implementation"] == served_version(torchserve) != "torchserve 9.9.9"
    started = stack_pids(record)
    names = " ".join(" ".join(psutil.Process(pid).cmdline()) for pid in started)
    assert "java" in names and "model_service_worker" in names and "tfserving_emulator" in names
    assert "prometheus" in names

    result = run_cli("down", "--state-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for service in ("torchserve", "tfserving", "prometheus"):
        assert f"stopped {service}" in result.stdout
    assert [pid for pid in started if alive(pid)] == []
    assert not (tmp_path / "stack.json").exists()
