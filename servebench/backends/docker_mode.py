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
from pathlib import Path

import requests

from servebench.backends.base import LaunchPlan, RunningBackend
from servebench.backends.detect import identify, parse_docker_time, ready_seconds_from_log
from servebench.backends.ports import CONTAINER_PORTS
from servebench.backends.process import LOCALHOST, free_port
from servebench.backends.tfserving import model_available, place_first_versions
from servebench.backends.torchserve import worker_pids
from servebench.errors import UsageError
from servebench.paths import REPO_ROOT

MEMORY_LIMIT = "2g"
MODEL_BASE = "/models"  # where the TF Serving container reads the stack's model base
SERVERS = {
    "torchserve": {
        "image": "servebench/torchserve:0.12.0",
        "dockerfile": "services/torchserve/Dockerfile",
    },
    "tfserving": {
        "image": "servebench/tfserving:2.20.0",
        "dockerfile": "services/tfserving/Dockerfile",
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


class ContainerBackend:
    """One server in its container: the Backend protocol of local mode (start, wait_ready,
    stop), so `up` drives both modes alike."""

    starts_alone = True  # each container's time to ready is its own: one after the other

    def __init__(self, name: str, plan: LaunchPlan) -> None:
        self.name, self.plan = name, plan
        self.spec = SERVERS[name]
        self.ports: dict[str, int] = {}
        self.container = None

    @property
    def model_base(self) -> Path | None:
        """TF Serving's model base, as in local mode the stack's own: a rollout puts version
        folders in it here, and the container reads them through its /models mount."""
        return self.plan.workdir / "tfserving" / "models" if self.name == "tfserving" else None

    def start(self) -> None:
        client = connect()
        build_image(client, self.spec)
        inside = CONTAINER_PORTS[self.name]
        self.ports = {key: free_port() for key in inside}
        volumes = {str(self.plan.layout.root.resolve()): {"bind": "/artifacts", "mode": "ro"}}
        environment = _environment(self.name, self.plan)
        if self.model_base is not None:
            place_first_versions(self.model_base, self.plan.models, self.plan.layout)
            volumes[str(self.model_base.resolve())] = {"bind": MODEL_BASE, "mode": "ro"}
            environment["SERVEBENCH_MODEL_BASE"] = MODEL_BASE
        self.container = client.containers.run(
            self.spec["image"],
            detach=True,
            name=f"servebench-{self.name}-{int(time.time())}",
            volumes=volumes,
            ports={f"{inner}/tcp": (LOCALHOST, self.ports[key]) for key, inner in inside.items()},
            environment=environment,
            cpuset_cpus=",".join(str(cpu) for cpu in self.plan.server_cpus),
            nano_cpus=int(len(self.plan.server_cpus) * 1e9),
            mem_limit=MEMORY_LIMIT,
            init=True,
            # As in compose: a crashed server comes back by itself.
            restart_policy={"Name": "unless-stopped"},
        )

    def wait_ready(self, timeout: float) -> RunningBackend:
        record = _wait_ready(self.name, self.spec, self.container, self.ports, self.plan, timeout)
        if self.model_base is not None:
            record.settings["model_base"] = str(self.model_base.resolve())
        return record

    def stop(self) -> None:
        if self.container is not None:
            _remove(self.container)


def container_backends(plan: LaunchPlan) -> list[ContainerBackend]:
    """up_command has already checked that an engine answers."""
    return [ContainerBackend(name, plan) for name in SERVERS]


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
    """Both containers read the same model list, batching and queue settings."""
    threads = str(plan.server_threads)
    common = {
        "SERVEBENCH_MODELS": ",".join(s.name for s in plan.models),
        "SERVEBENCH_BATCH_SIZE": str(plan.batch_size),
        "SERVEBENCH_BATCH_DELAY_MS": str(plan.batch_delay_ms),
        "SERVEBENCH_QUEUE_SIZE": str(plan.queue_size),
    }
    if name == "torchserve":
        return common | {"SERVEBENCH_TORCH_THREADS": threads, "OMP_NUM_THREADS": threads}
    return common | {"TF_THREADS": threads}


def build_image(client, spec: dict) -> None:
    """Build the server image from this checkout, as compose's `pull_policy: build` does: never
    pulled, and with Docker's layer cache a rebuild of unchanged sources takes seconds."""
    import docker

    print(f"building {spec['image']} from {spec['dockerfile']} ...", flush=True)
    try:
        client.images.build(
            path=str(REPO_ROOT), dockerfile=spec["dockerfile"], tag=spec["image"], rm=True
        )
    except docker.errors.BuildError as exc:
        tail = " | ".join(
            str(line.get("stream", line.get("error", ""))).strip() for line in exc.build_log
        )[-300:]
        raise UsageError(
            f"building {spec['image']} failed ({tail}); on a machine without registry access "
            "run `make engine` first, which builds stand-in base images"
        ) from None


def version_output(backend: dict) -> str | None:
    """`tensorflow_model_server --version` run inside the backend's container, or None."""
    import docker

    container = _container(backend)
    try:
        result = container.exec_run(["tensorflow_model_server", "--version"]) if container else None
    except docker.errors.DockerException:
        return None
    return result.output.decode(errors="replace") if result else None


def ready_seconds(name: str, backend: dict, models: list[str]) -> float | None:
    """From the container's start to every model loaded, read from its timestamped log."""
    import docker

    container = _container(backend)
    if container is None:
        return None
    try:
        lines = container.logs(timestamps=True).decode(errors="replace").splitlines()
    except docker.errors.DockerException:
        return None
    started = parse_docker_time(container.attrs["State"]["StartedAt"])
    return ready_seconds_from_log(name, started, lines, models)


def container_footprint(container_id: str) -> dict | None:
    """The container's processes (their host PIDs, as `docker top` lists them) and its image's
    size, or None where Docker cannot say."""
    import docker

    container = _container({"settings": {"container": container_id}})
    if container is None:
        return None
    try:
        top = container.top()
        image_bytes = container.image.attrs.get("Size")
    except docker.errors.DockerException:
        return None
    column = top["Titles"].index("PID")
    return {"pids": [int(row[column]) for row in top["Processes"]], "image_bytes": image_bytes}


STAND_IN, STANDS_IN_FOR = "org.servebench.stand-in", "org.servebench.stands-in-for"


def container_image(container_id: str) -> dict | None:
    """What the container runs: its image's tags, platform, and whether it is one of
    servebench's labelled stand-ins (and for which official image); None where Docker cannot
    say."""
    import docker

    container = _container({"settings": {"container": container_id}})
    if container is None:
        return None
    try:
        attrs = container.image.attrs
    except docker.errors.DockerException:
        return None
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return {
        "image": (attrs.get("RepoTags") or [attrs.get("Id")])[0],
        "architecture": attrs.get("Architecture"),
        "os": attrs.get("Os"),
        "stand_in": labels.get(STAND_IN) == "true",
        "stands_in_for": labels.get(STANDS_IN_FOR),
    }


def container_running(container_id: str) -> bool:
    container = _container({"settings": {"container": container_id}})
    return container is not None and container.status in ("running", "restarting")


def _container(backend: dict):
    """The container a stack record names, or None where it names none or Docker cannot say."""
    import docker

    container_id = backend.get("settings", {}).get("container")
    if not container_id:
        return None
    try:
        return connect().containers.get(container_id)
    except (UsageError, docker.errors.DockerException):
        return None


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
    seconds = round(time.monotonic() - start, 2)
    record = RunningBackend(
        name=name,
        implementation="",  # filled in below by asking the server itself
        real=False,
        pid=0,
        endpoints=endpoints,
        log=f"docker logs {container.id[:12]}",
        ready_seconds=seconds,
        settings={
            "container": container.id,
            "image": spec["image"],
            "cpus": plan.server_cpus,
            "memory_limit": MEMORY_LIMIT,
            "threads": plan.server_threads,
            "batch_size": plan.batch_size,
            "batch_delay_ms": plan.batch_delay_ms,
            "queue_size": plan.queue_size,
        },
    )
    stack = {"models": [s.name for s in plan.models], "backends": {name: record.as_dict()}}
    found = identify(stack, version_output)["backends"][name]
    record.implementation, record.real = found["implementation"], found["real"]
    return record


def _remove(container) -> None:
    try:
        container.stop(timeout=10)
    finally:
        container.remove(force=True)


__all__ = [
    "build_image",
    "connect",
    "container_footprint",
    "container_running",
    "container_stats",
    "server_stats_source",
    "ContainerBackend",
    "container_backends",
    "stop_servers",
    "ready_seconds",
    "version_output",
]
