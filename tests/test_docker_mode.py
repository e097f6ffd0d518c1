"""`up --mode docker`: stats parsing and the no-engine error, then both servers in real
containers through the Docker SDK."""

import json
import platform
import subprocess
from pathlib import Path

import pytest

from servebench.backends.docker_mode import container_stats
from servebench.backends.process import free_port
from servebench.backends.tfserving import available_versions
from servebench.backends.torchserve import registered_versions
from servebench.export.exporter import export_model
from servebench.export.layout import ArtifactLayout
from servebench.models import DEFAULT_MAX_BATCH, MODELS
from servebench.models.weights import seeded_state

from .conftest import bench, run_cli
from .containers import assert_a_clean_rollout, require_engine

# One sample in the Docker Engine API's /containers/{id}/stats format (cgroup v2).
SAMPLE = {
    "cpu_stats": {
        "cpu_usage": {"total_usage": 2_500_000_000},
        "system_cpu_usage": 20_000_000_000,
        "online_cpus": 2,
    },
    "precpu_stats": {
        "cpu_usage": {"total_usage": 2_000_000_000},
        "system_cpu_usage": 18_000_000_000,
    },
    "memory_stats": {"usage": 900 * 2**20, "stats": {"inactive_file": 100 * 2**20}},
}


def test_stats_are_parsed_like_docker_stats():
    cpu, memory = container_stats(SAMPLE)
    assert cpu == pytest.approx(50.0)  # 0.5 s of CPU in 2 s of the machine's 2 CPUs: half a core
    assert memory == pytest.approx(800.0)  # the page cache is not the server's memory


def test_stats_of_cgroup_v1_and_a_first_sample():
    v1 = {**SAMPLE, "memory_stats": {"usage": 500 * 2**20, "stats": {"cache": 50 * 2**20}}}
    assert container_stats(v1)[1] == pytest.approx(450.0)
    first = {**SAMPLE, "precpu_stats": {}}  # no earlier sample: no CPU figure yet
    assert container_stats({**first, "cpu_stats": {"cpu_usage": {}}})[0] == 0.0


def test_up_without_an_engine_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    result = run_cli("up", "--mode", "docker", "--state-dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Docker engine is reachable" in lines[0]
    assert "--mode local" in lines[0] and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def docker_stack(tmp_path_factory):
    """Both servers in containers, started by the real `servebench up --mode docker`, on mlp
    version 1 with a version 2 beside it for the rollout."""
    require_engine()
    artifacts = ArtifactLayout(tmp_path_factory.mktemp("docker-artifacts"))
    for version, seed in ((1, 0), (2, 1)):
        state = seeded_state(MODELS["mlp"], seed)
        export_model(MODELS["mlp"], state, artifacts, DEFAULT_MAX_BATCH, lambda _: None, version)
    artifacts.root.chmod(0o755)  # pytest's folders are 0700; the servers run as other users
    state = tmp_path_factory.mktemp("docker-state")
    up = run_cli(
        "up", "--mode", "docker", "--model", "mlp",
        "--artifacts", str(artifacts.root), "--state-dir", str(state),
    )  # fmt: skip
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    stack = json.loads((state / "stack.json").read_text())
    try:
        yield {**stack, "state_dir": str(state)}
    finally:
        run_cli("down", "--state-dir", str(state))


def test_up_docker_records_what_answered_and_bench_samples_the_containers(docker_stack, tmp_path):
    backends = docker_stack["backends"]
    # What answered is asked of the servers, not written in a config file.
    assert backends["torchserve"]["implementation"] == "torchserve 0.12.0"
    assert backends["torchserve"]["real"] is True
    assert backends["tfserving"]["implementation"] == "tfserving-emulator"
    assert backends["tfserving"]["real"] is False
    for backend in backends.values():
        assert 0 < backend["ready_seconds"] < 180
        assert backend["pid"] == 0 and backend["settings"]["batch_size"] == 1
        assert inspect(backend["settings"]["container"])["State"]["Running"]
    run = bench(
        docker_stack, tmp_path / "results",
        "--scenario", "steady", "--duration", "3s", "--warmup", "1s", "--repeat", "1",
        "--users", "2", "--targets", "torchserve-rest,tfserving-grpc", "--no-limits",
        "--calibrate-seconds", "0",
    )  # fmt: skip
    for entry in run["results"]["targets"]:
        (window,) = entry["repetitions"]
        assert window["successes"] > 0, entry["target"]
        assert window["resources"]["server_cpu_percent_mean"] is not None
        assert window["resources"]["server_rss_mb_max"] > 50
    # What ran, detected: the host's architecture and AVX, each image's platform, and that
    # these images are labelled stand-ins (for which official one), from their labels.
    record = json.loads((run["dir"] / "run.json").read_text())
    assert record["cpu"]["arch"] == platform.machine()
    assert record["cpu"]["avx"] == ("avx" in Path("/proc/cpuinfo").read_text().split())
    images = record["images"]
    assert images["torchserve"]["architecture"] == images["tfserving"]["architecture"] == "amd64"
    assert images["torchserve"]["stand_in"] is True
    assert images["torchserve"]["stands_in_for"] == "pytorch/torchserve:0.12.0-cpu"
    assert images["tfserving"]["stands_in_for"] == "tensorflow/serving:2.20.0"
    assert run_cli("report", str(run["dir"])).returncode == 0
    setup = (run["dir"] / "report.md").read_text().split("## Setup")[1].split("## ")[0]
    assert f"{platform.machine()}, AVX " in setup
    assert "a labelled STAND-IN for tensorflow/serving:2.20.0" in setup
    # The TorchServe image's numpy is upstream's, which the handler must run on.
    container = backends["torchserve"]["settings"]["container"]
    found = subprocess.run(["docker", "exec", container, "python", "-c",
                            "import numpy; print(numpy.__version__)"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert found.stdout.strip() == "1.24.3", found.stdout + found.stderr


def test_a_rollout_in_containers_reaches_version_two_and_comes_back(docker_stack, tmp_path):
    """TorchServe through its published management port; TF Serving through the stack's
    model base, which its container mounts."""
    backends = docker_stack["backends"]
    tf_rest = backends["tfserving"]["endpoints"]["rest"]
    assert available_versions(tf_rest, "mlp") == [1]  # version 2 waits in the artifacts
    run = bench(
        docker_stack, tmp_path / "results",
        "--scenario", "rollout", "--model", "mlp", "--targets", "torchserve-rest,tfserving-grpc",
        "--rate", "60", "--duration", "20s", "--warmup", "2s", "--users", "2", "--no-limits",
        "--calibrate-seconds", "0", "--repeat", "1",
    )  # fmt: skip
    for entry in run["results"]["targets"]:
        assert_a_clean_rollout(entry)
    assert available_versions(tf_rest, "mlp") == [1]
    management = backends["torchserve"]["endpoints"]["management"]
    assert registered_versions(management, "mlp") == ["1.0"]


@pytest.mark.parametrize(
    ("target", "kind"), [("torchserve-rest", "worker"), ("tfserving-rest", "server")]
)
def test_a_killed_server_comes_back_and_the_run_keeps_before_and_after(
    docker_stack, tmp_path, target, kind
):
    backend = docker_stack["backends"][target.split("-")[0]]
    container = backend["settings"]["container"]
    restarts = inspect(container)["RestartCount"]
    run = bench(
        docker_stack, tmp_path / "results",
        "--scenario", "fault", "--fault", kind, "--targets", target, "--duration", "15s",
        "--warmup", "2s", "--users", "2", "--no-limits", "--calibrate-seconds", "0",
        "--repeat", "1",
    )  # fmt: skip
    (entry,) = run["results"]["targets"]
    fault = entry["fault"]
    assert fault["kind"] == kind and fault["injected_unix"], fault
    assert fault["recovered_after_s"] is not None and fault["recovered_after_s"] < 12, fault
    before, after = entry["phases"]
    assert before["label"] == "before the fault" and after["label"] == "after the fault"
    assert before["achieved_rps"] > 0 and after["achieved_rps"] > 0
    if kind == "worker":
        # TorchServe replaced its worker; the container itself never went down.
        from servebench.backends.torchserve import worker_pids

        assert worker_pids(backend["endpoints"]["management"], "mlp") != [fault["pid"]]
        assert inspect(container)["RestartCount"] == restarts
    else:
        assert fault["restarts"] == 1 and inspect(container)["RestartCount"] == restarts + 1
        # the restart and the model's loading inside the new container, timed from its log
        assert 0 <= fault["restarted_after_s"] < fault["recovered_after_s"], fault
        loaded = fault["model_loaded_after_restart_s"]
        assert loaded is not None and 0 < loaded < fault["recovered_after_s"], fault
    assert run_cli("report", "--results", str(run["dir"].parent)).returncode == 0
    assert "killed (pid" in (run["dir"] / "report.md").read_text()


def test_down_removes_the_containers(docker_stack):
    containers = [b["settings"]["container"] for b in docker_stack["backends"].values()]
    down = run_cli("down", "--state-dir", docker_stack["state_dir"])
    assert down.returncode == 0, down.stderr
    assert all(inspect(container) is None for container in containers)


def inspect(container: str) -> dict | None:
    """`docker inspect` of one container, or None when it does not exist."""
    result = subprocess.run(["docker", "inspect", container], capture_output=True, text=True)
    return json.loads(result.stdout)[0] if result.returncode == 0 else None
