"""`up --mode docker`: what can be checked without a Docker engine (there is none here)."""

import pytest

from servebench.backends.docker_mode import container_stats
from servebench.backends.process import free_port

from .conftest import run_cli

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
