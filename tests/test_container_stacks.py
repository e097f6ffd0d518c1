"""What compose.yaml's `bench` profile and the k8s Locust pods rely on, checked with the real
servers, Locust and Prometheus of the local stack: a stack record whose servers are not local
processes, and load generators that Prometheus discovers through the stack record."""

import copy
import json
import os
import shlex
import subprocess
from pathlib import Path

import psutil
import pytest

from servebench.backends.process import free_port
from servebench.cli import build_parser
from servebench.metrics.exporter import LoadMetrics, reachable_host
from servebench.metrics.prometheus import loadgen_discovery
from servebench.validate import find_tool

from .conftest import REPO, bench, run_cli


def container_like(stack: dict, state_dir: Path) -> dict:
    """The local stack recorded as compose records it: torchserve by container name, tfserving
    by nothing at all (as in k8s), neither by PID."""
    record = copy.deepcopy({key: value for key, value in stack.items() if key != "state_dir"})
    record["mode"] = "docker"
    record["backends"]["torchserve"] = {
        **record["backends"]["torchserve"],
        "pid": 0,
        "settings": {"container": "servebench-torchserve-1"},
    }
    record["backends"]["tfserving"] = {**record["backends"]["tfserving"], "pid": 0}
    state_dir.mkdir(parents=True)
    (state_dir / "stack.json").write_text(json.dumps(record))
    return {**record, "state_dir": str(state_dir)}


def test_servers_without_processes_are_measured_and_the_gap_is_said(stack, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")  # no engine answers
    record = container_like(stack, tmp_path / "state")
    run = bench(record, tmp_path / "out", "--model", "mlp", "--targets", "torchserve-rest",
                "--duration", "3s", "--warmup", "1s", "--repeat", "1", "--users", "2",
                "--no-limits", "--calibrate-seconds", "0")  # fmt: skip
    results = run["results"]
    warnings = "\n".join(results["warnings"])
    assert "torchserve: CPU and memory not sampled (no Docker engine is reachable" in warnings
    assert "tfserving: CPU and memory not sampled (the stack records no process" in warnings
    assert results["idle_rss_mb"] == {}
    (entry,) = results["targets"]
    repetition = entry["repetitions"][0]
    assert repetition["achieved_rps"] > 0
    assert "server_cpu_percent_mean" not in repetition["resources"]
    assert repetition["resources"]["loadgen_cpu_percent_mean"] > 0
    # The load generator still announced itself where the stack record says Prometheus looks.
    check = entry["crosscheck"]
    assert abs(check["prometheus_requests"] - check["log_requests"]) <= 0.01 * check["log_requests"]


def test_server_cpus_is_refused_for_servers_that_are_not_local(stack, tmp_path):
    record = container_like(stack, tmp_path / "state")
    result = run_cli("bench", "--state-dir", record["state_dir"], "--server-cpus", "0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "runs in docker mode" in result.stderr


def test_an_exporter_announces_the_address_prometheus_reaches(tmp_path):
    metrics = LoadMetrics()
    port = metrics.serve(tmp_path, 0, "127.0.0.1")
    (announced,) = json.loads((tmp_path / f"loadgen-{os.getpid()}.json").read_text())
    assert announced["targets"] == [f"127.0.0.1:{port}"]
    assert announced["labels"] == {"loadgen_pid": str(os.getpid())}
    # A wildcard listener is announced by this host's own address on its network.
    own = {a.address for nic in psutil.net_if_addrs().values() for a in nic}
    assert reachable_host("0.0.0.0") in own
    assert reachable_host("0.0.0.0") != "0.0.0.0"


def test_compose_and_k8s_stack_records_say_how_load_generators_are_found():
    compose = json.loads((REPO / "services/harness/stack.compose.json").read_text())
    assert loadgen_discovery(compose) == (Path("/loadgen"), "0.0.0.0")
    k8s = json.loads((REPO / "k8s/base/files/stack.k8s.json").read_text())
    assert loadgen_discovery(k8s) == (None, "0.0.0.0")  # pods are found by Kubernetes
    assert loadgen_discovery({}) == (None, "127.0.0.1")


def compose_bench_service(**environment: str) -> dict:
    """The bench service as Compose itself reads it, variables interpolated."""
    result = subprocess.run(
        [find_tool("docker-compose"), "--profile", "bench", "config", "--format", "json"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**os.environ, **environment},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]["bench"]


@pytest.mark.parametrize(
    ("bench_args", "scenario"),
    [(None, "steady"), ("--scenario poisson --find-knee --model mlp", "poisson")],
)
def test_compose_bench_commands_parse_with_the_real_cli(monkeypatch, bench_args, scenario):
    monkeypatch.delenv("BENCH_ARGS", raising=False)
    service = compose_bench_service(**({"BENCH_ARGS": bench_args} if bench_args else {}))
    assert service["entrypoint"] == ["sh", "-c"]
    (script,) = service["command"]
    commands = [shlex.split(part) for part in script.split("&&")]
    assert [words[:2] for words in commands] == [["servebench", "bench"], ["servebench", "report"]]
    parser = build_parser()
    bench_args = parser.parse_args(commands[0][1:])
    report_args = parser.parse_args(commands[1][1:])
    assert bench_args.scenario == scenario
    assert bench_args.out == report_args.results == Path("/results")
    mounts = {(m["source"].removeprefix(str(REPO)), m["target"]) for m in service["volumes"]}
    assert ("/results", "/results") in mounts
    assert ("/services/harness/stack.compose.json", f"{bench_args.state_dir}/stack.json") in mounts
    assert ("/var/run/docker.sock", "/var/run/docker.sock") in mounts
