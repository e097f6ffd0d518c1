"""`docker compose` as a user runs it, on a real engine: `up -d --wait` from a fresh copy of the
checkout with no prior step, parity through the published ports, every Prometheus target up
and both Locust workers connected, the bench profile writing results and a report, a second
`up` and a bench run that leave the running servers alone, and `down -v` leaving nothing."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from servebench.backends.process import free_port
from servebench.backends.tfserving import available_versions

from .conftest import run_cli
from .containers import (
    assert_a_clean_rollout,
    fresh_checkout,
    image_present,
    project_objects,
    require_engine,
)

PROJECT = "servebench"  # compose.yaml's name:
SERVERS = ("torchserve", "tfserving")
# Short load-generator ceilings, as the local runs measure them (2 s a case, not the default
# 5 s): this checks that the profile calibrates, benches and reports, not the figures.
BENCH_ARGS = (
    "--scenario steady --model mlp --duration 4s --warmup 2s --repeat 1 --users 2"
    " --calibrate-seconds 2s"
)


class Compose:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env

    def __call__(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "compose", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def port(self, name: str) -> int:
        return int(self.env[name])

    def container(self, service: str) -> dict:
        output = subprocess.run(
            ["docker", "inspect", f"{PROJECT}-{service}-1"], capture_output=True, text=True
        ).stdout
        return json.loads(output)[0]


@pytest.fixture(scope="module")
def compose(tmp_path_factory):
    require_engine()
    leftover = project_objects(PROJECT)["containers"]
    assert not leftover, f"a {PROJECT} compose project is already running; `docker compose down`"
    workdir = fresh_checkout(tmp_path_factory.mktemp("clone"))
    ports = ["TORCHSERVE_REST", "TORCHSERVE_GRPC", "TFSERVING_REST", "TFSERVING_GRPC"]
    env = {**os.environ, **{f"{name}_PORT": str(free_port()) for name in ports}}
    env |= {"PROMETHEUS_PORT": str(free_port()), "LOCUST_PORT": str(free_port())}
    env["LOCUST_WORKERS"] = "2"
    if not image_present("grafana/grafana:11.6.4"):
        # What `make engine` writes to .env here; said in the test's output.
        print("no Grafana image on this machine: the stack runs without it")
        env["COMPOSE_FILE"] = "compose.yaml"
    project = Compose(workdir, env)
    try:
        yield project
    finally:
        project("--profile", "bench", "down", "-v", "--remove-orphans", timeout=300)


def test_up_wait_starts_the_whole_stack_from_a_fresh_checkout(compose):
    started = time.monotonic()
    result = compose("up", "-d", "--wait")
    export_log = compose("logs", "export").stdout if result.returncode else ""
    assert result.returncode == 0, result.stderr[-3000:] + export_log[-3000:]
    print(f"docker compose up -d --wait: {time.monotonic() - started:.0f} s")
    for service in SERVERS:
        state = compose.container(service)["State"]
        assert state["Running"] and state["Health"]["Status"] == "healthy", state
    export = compose.container("export")["State"]
    assert export["Status"] == "exited" and export["ExitCode"] == 0


def host_stack(compose, artifacts: Path, state_dir: Path) -> Path:
    """compose's own stack record, its endpoints moved to the published 127.0.0.1 ports."""
    record = json.loads((compose.workdir / "services/harness/stack.compose.json").read_text())
    record["artifacts"] = str(artifacts)
    record["models"] = ["mlp", "resnet18"]
    local = "127.0.0.1"
    record["backends"]["torchserve"]["endpoints"] |= {
        "rest": f"http://{local}:{compose.port('TORCHSERVE_REST_PORT')}",
        "grpc": f"{local}:{compose.port('TORCHSERVE_GRPC_PORT')}",
    }
    record["backends"]["tfserving"]["endpoints"] |= {
        "rest": f"http://{local}:{compose.port('TFSERVING_REST_PORT')}",
        "grpc": f"{local}:{compose.port('TFSERVING_GRPC_PORT')}",
    }
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "stack.json").write_text(json.dumps(record))
    return state_dir


def test_parity_through_the_published_ports(compose, tmp_path):
    # The weights the servers were built from, copied out of the export's volume.
    copied = subprocess.run(
        ["docker", "cp", f"{PROJECT}-export-1:/artifacts", str(tmp_path / "artifacts")],
        capture_output=True,
        text=True,
    )
    assert copied.returncode == 0, copied.stderr
    state_dir = host_stack(compose, tmp_path / "artifacts", tmp_path / "state")
    result = run_cli("parity", "--endpoints", "--state-dir", str(state_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    # 2 models x 4 endpoints x batch 1 and 8, each naming who answered, detected at run time.
    rows = [line for line in result.stdout.splitlines() if "[" in line and "yes" in line]
    assert len(rows) == 16, result.stdout
    assert all("tfserving-emulator" in row for row in rows if "tfserving-" in row)
    assert all("torchserve 0.12.0" in row for row in rows if "torchserve-" in row)
    # TF Serving's model base is a volume only the bench container mounts: from this host, a
    # rollout is refused before any load, with the command that runs it.
    rollout = run_cli("bench", "--scenario", "rollout", "--model", "mlp",
                      "--targets", "torchserve-rest", "--state-dir", str(state_dir),
                      "--out", str(tmp_path / "results"))  # fmt: skip
    assert rollout.returncode == 2 and "Traceback" not in rollout.stderr, rollout.stderr
    last = rollout.stderr.strip().splitlines()[-1]
    assert "model base /models, which is not on this machine" in last
    assert "docker compose --profile bench run --rm bench" in last


def test_every_prometheus_target_is_up_and_both_locust_workers_connect(compose):
    prometheus = f"http://127.0.0.1:{compose.port('PROMETHEUS_PORT')}"
    locust = f"http://127.0.0.1:{compose.port('LOCUST_PORT')}"
    deadline = time.monotonic() + 90
    while True:
        targets = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        health = {t["labels"]["job"]: t["health"] for t in targets["activeTargets"]}
        workers = requests.get(f"{locust}/stats/requests", timeout=5).json().get("workers", [])
        done = set(health) >= set(SERVERS) and set(health.values()) == {"up"}
        if (done and len(workers) == 2) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert set(health) >= set(SERVERS) and set(health.values()) == {"up"}, health
    assert len(workers) == 2, workers


class AvailabilityWatch(threading.Thread):
    """Polls TF Serving's model status five times a second; keeps every answer not AVAILABLE."""

    def __init__(self, rest: str, models: list[str]) -> None:
        super().__init__(daemon=True)
        self.rest, self.models = rest, models
        self.lapses: list[str] = []
        self.polls = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            for model in self.models:
                try:
                    reply = requests.get(f"{self.rest}/v1/models/{model}", timeout=2)
                    states = [v["state"] for v in reply.json().get("model_version_status", [])]
                    ok = reply.status_code == 200 and states == ["AVAILABLE"]
                    summary = f"{reply.status_code} {states}"
                except (requests.RequestException, ValueError) as exc:
                    ok, summary = False, type(exc).__name__
                self.polls += 1
                if not ok:
                    self.lapses.append(f"{model}: {summary}")


def test_bench_profile_and_a_second_up_leave_the_servers_alone(compose):
    before = {service: compose.container(service) for service in SERVERS}
    watch = AvailabilityWatch(
        f"http://127.0.0.1:{compose.port('TFSERVING_REST_PORT')}", ["mlp", "resnet18"]
    )
    watch.start()
    try:
        second = compose("up", "-d", "--wait")
        assert second.returncode == 0, second.stderr[-3000:]
        env = {**compose.env, "BENCH_ARGS": BENCH_ARGS}
        bench = subprocess.run(
            ["docker", "compose", "--profile", "bench", "run", "--rm", "bench"],
            cwd=compose.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    finally:
        watch.done.set()
        watch.join()
    assert bench.returncode == 0, bench.stdout[-4000:] + bench.stderr[-3000:]
    assert watch.polls > 20 and not watch.lapses, watch.lapses[:5]
    for service in SERVERS:
        after = compose.container(service)
        assert after["Id"] == before[service]["Id"], f"{service} was recreated"
        assert after["State"]["StartedAt"] == before[service]["State"]["StartedAt"], service
        assert after["RestartCount"] == 0, f"{service} restarted"

    (run_dir,) = [p for p in (compose.workdir / "results").iterdir() if p.is_dir()]
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    results = json.loads((run_dir / "results.json").read_text())
    implementations = results["implementations"]
    assert implementations["torchserve"].startswith("torchserve 0.12.0"), implementations
    assert implementations["tfserving"] == "tfserving-emulator", implementations
    assert results["verdict_allowed"] is False
    # Time to ready, from each container's start to its models loaded, read from its own log.
    recorded = json.loads((run_dir / "context" / "stack.json").read_text())["backends"]
    for service in SERVERS:
        assert 0 < recorded[service]["ready_seconds"] < 300, recorded[service]
    assert (
        "verdict: none" in (run_dir / "report.md").read_text().lower()
        or "no verdict" in (run_dir / "report.md").read_text().lower()
    )
    for entry in results["targets"]:
        (window,) = entry["repetitions"]
        assert window["successes"] > 0, entry["target"]
        resources = window["resources"]
        assert resources.get("server_cpu_percent_mean") is not None, resources
        assert resources.get("server_rss_mb_max", 0) > 50, resources


def test_a_rollout_through_the_model_base_volume_and_the_management_port(compose):
    """Version 2 exported into the artifacts volume, then rolled out and back by the bench
    container: TF Serving's through the model-base volume its container reads, TorchServe's
    through the management port inside the compose network."""
    export = compose("run", "--rm", "export", "export", "--model", "mlp", "--version", "2",
                     "--seed", "1", "--out", "/artifacts", timeout=600)  # fmt: skip
    assert export.returncode == 0, export.stdout[-3000:] + export.stderr[-3000:]
    tf_rest = f"http://127.0.0.1:{compose.port('TFSERVING_REST_PORT')}"
    assert available_versions(tf_rest, "mlp") == [1]  # version 2 waits in the artifacts
    results_dir = compose.workdir / "results"
    before = {p.name for p in results_dir.iterdir()} if results_dir.is_dir() else set()
    args = ("--scenario rollout --model mlp --targets torchserve-rest,tfserving-rest --rate 40"
            " --duration 16s --warmup 2s --users 2 --calibrate-seconds 0 --repeat 1")  # fmt: skip
    # BENCH_ARGS is read where compose.yaml is, as a user sets it: in compose's environment.
    with_args = Compose(compose.workdir, {**compose.env, "BENCH_ARGS": args})
    bench = with_args("--profile", "bench", "run", "--rm", "bench", timeout=900)
    assert bench.returncode == 0, bench.stdout[-4000:] + bench.stderr[-3000:]
    (run_dir,) = [p for p in results_dir.iterdir() if p.name not in before]
    results = json.loads((run_dir / "results.json").read_text())
    assert {entry["target"] for entry in results["targets"]} == {
        "torchserve-rest", "tfserving-rest"
    }  # fmt: skip
    for entry in results["targets"]:
        assert_a_clean_rollout(entry)
    assert available_versions(tf_rest, "mlp") == [1]
    assert (run_dir / "report.md").read_text().count("rollout v1 -> v2: first v2 answer") == 2


def test_down_v_leaves_no_container_volume_or_network(compose):
    result = compose("--profile", "bench", "down", "-v", "--remove-orphans", timeout=300)
    assert result.returncode == 0, result.stderr
    assert project_objects(PROJECT) == {"containers": [], "volumes": [], "networks": []}
