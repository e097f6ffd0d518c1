"""`servebench up --mode docker`: both servers in their containers (the images compose.yaml
builds), started through the Docker SDK (the `docker` package), never by shelling out.

Everything else stays as in local mode: the artifacts folder is mounted read-only into both
containers, ports are published on 127.0.0.1 only, and Prometheus and Locust run locally and
reach the containers through those ports. Both containers get the same CPU set, CPU quota and
memory limit.
"""

from __future__ import annotations

import contextlib
import time

import requests

from servebench.backends.base import LaunchPlan, RunningBackend
from servebench.backends.process import LOCALHOST, free_port
from servebench.backends.tfserving import model_available
from servebench.backends.torchserve import worker_pids
from servebench.errors import UsageError
from servebench.export.torchserve import REPO_ROOT

MEMORY_LIMIT = "2g"
SERVERS = {
    "torchserve": {
        "image": "servebench/torchserve:0.12.0",
        "dockerfile": "services/torchserve/Dockerfile",
        "implementation": "torchserve 0.12.0 (container)",
        "ports": {"rest": 8080, "grpc": 7070, "management": 8081, "metrics": 8082},
    },
    "tfserving": {
        "image": "servebench/tfserving:2.20.0",
        "dockerfile": "services/tfserving/Dockerfile",
        "implementation": "tensorflow_model_server 2.20.0 (container)",
        "ports": {"grpc": 8500, "rest": 8501},
    },
}


def connect():
    """A Docker client that has answered a ping; otherwise one line saying what to do."""
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except docker.errors.DockerException as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"no Docker engine is reachable ({reason[:160]}); start Docker or set DOCKER_HOST, "
            "or use --mode local"
        ) from None
    return client


def container_stats(sample: dict) -> tuple[float, float]:
    """(CPU %, where 100 is one core; memory MiB without the page cache) from one sample of the
    Docker stats API, computed the way `docker stats` does."""
    cpu, precpu = sample.get("cpu_stats", {}), sample.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - precpu.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - precpu.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    percent = cpu_delta / system_delta * online * 100 if system_delta > 0 and cpu_delta > 0 else 0.0
    memory = sample.get("memory_stats", {})
    extra = memory.get("stats", {})
    cache = extra.get("inactive_file", extra.get("total_inactive_file", extra.get("cache", 0)))
    return percent, max(memory.get("usage", 0) - cache, 0) / 2**20


def server_stats_source(container_id: str):
    """A callable giving (CPU %, memory MiB) of the container now; for bench's sampler."""
    client = connect()
    container = client.containers.get(container_id)
    return lambda: container_stats(container.stats(stream=False))


def start_servers(plan: LaunchPlan, timeout: float) -> list[RunningBackend]:
    client = connect()
    started, running = [], []
    try:
        for name, spec in SERVERS.items():
            _ensure_image(client, spec)
            ports = {key: free_port() for key in spec["ports"]}
            container = client.containers.run(
                spec["image"],
                detach=True,
                name=f"servebench-{name}-{int(time.time())}",
                volumes={str(plan.layout.root.resolve()): {"bind": "/artifacts", "mode": "ro"}},
                ports={
                    f"{inner}/tcp": (LOCALHOST, ports[key]) for key, inner in spec["ports"].items()
                },
                environment=_environment(name, plan),
                cpuset_cpus=",".join(str(cpu) for cpu in plan.server_cpus),
                nano_cpus=int(len(plan.server_cpus) * 1e9),
                mem_limit=MEMORY_LIMIT,
            )
            started.append(container)
            running.append(_wait_ready(name, spec, container, ports, plan, timeout))
    except BaseException:
        for container in started:
            _remove(container)
        raise
    return running


def stop_servers(stack: dict) -> list[str]:
    import docker

    client = connect()
    stopped = []
    for name, backend in stack["backends"].items():
        container_id = backend["settings"].get("container")
        if container_id:
            with contextlib.suppress(docker.errors.NotFound):  # already gone is fine
                _remove(client.containers.get(container_id))
            stopped.append(f"{name} (container {container_id[:12]})")
    return stopped


def _environment(name: str, plan: LaunchPlan) -> dict[str, str]:
    threads = str(plan.server_threads)
    if name == "torchserve":
        return {
            "SERVEBENCH_TORCH_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "SERVEBENCH_MODELS": ",".join(s.name for s in plan.models),
        }
    return {"TF_THREADS": threads}


def _ensure_image(client, spec: dict) -> None:
    import docker

    try:
        client.images.get(spec["image"])
    except docker.errors.ImageNotFound:
        print(f"building {spec['image']} from {spec['dockerfile']} ...", flush=True)
        client.images.build(path=str(REPO_ROOT), dockerfile=spec["dockerfile"], tag=spec["image"])


def _wait_ready(name, spec, container, ports, plan: LaunchPlan, timeout: float) -> RunningBackend:
    endpoints = {
        key: (f"{LOCALHOST}:{port}" if key == "grpc" else f"http://{LOCALHOST}:{port}")
        for key, port in ports.items()
    }
    if name == "torchserve":
        endpoints["metrics"] += "/metrics"
        ready = lambda: all(worker_pids(endpoints["management"], s.name) for s in plan.models)  # noqa: E731
    else:
        endpoints["metrics"] = endpoints["rest"] + "/monitoring/prometheus/metrics"
        ready = lambda: all(model_available(endpoints["rest"], s.name) for s in plan.models)  # noqa: E731
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        container.reload()
        if container.status == "exited":
            tail = container.logs(tail=3).decode(errors="replace").strip().replace("\n", " | ")
            raise UsageError(f"the {name} container exited: {tail}")
        try:
            if ready():
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    else:
        raise UsageError(f"the {name} container was not ready after {timeout:.0f} s")
    return RunningBackend(
        name=name,
        implementation=spec["implementation"],
        real=True,
        pid=0,
        endpoints=endpoints,
        log=f"docker logs {container.id[:12]}",
        ready_seconds=round(time.monotonic() - start, 2),
        settings={
            "container": container.id,
            "image": spec["image"],
            "cpus": plan.server_cpus,
            "memory_limit": MEMORY_LIMIT,
            "threads": plan.server_threads,
        },
    )


def _remove(container) -> None:
    try:
        container.stop(timeout=10)
    finally:
        container.remove(force=True)


__all__ = ["connect", "container_stats", "server_stats_source", "start_servers", "stop_servers"]
