"""What actually answers at an endpoint, found out at run time. Stack records for Compose and
Kubernetes leave ``implementation``, ``real`` and ``ready_seconds`` empty; they are filled in
here from the servers themselves, never from a config file."""

from __future__ import annotations

import re
from datetime import datetime

import requests

from servebench.backends.tfserving_emulator import IMPLEMENTATION as EMULATOR

# The emulator names itself in this response header; TF Serving never sends it.
SERVED_BY = "X-Served-By"
MODEL_SERVER_VERSION = re.compile(r"TensorFlow ModelServer:\s*(\S+)")


def torchserve_implementation(rest: str) -> str:
    """TorchServe's own version, from the OpenAPI description its inference API serves."""
    reply = requests.get(f"{rest}/api-description", timeout=10)
    reply.raise_for_status()
    return f"torchserve {reply.json()['info']['version']}"


def prometheus_implementation(http: str) -> str:
    """Prometheus's own version, from the build information its HTTP API serves."""
    reply = requests.get(f"{http}/api/v1/status/buildinfo", timeout=10)
    reply.raise_for_status()
    return f"prometheus {reply.json()['data']['version']}"


def diy_implementation(rest: str) -> str:
    """The diy baseline's own words, from its /ping answer."""
    reply = requests.get(f"{rest}/ping", timeout=10)
    reply.raise_for_status()
    return reply.json()["implementation"]


def tfserving_implementation(rest: str, model: str, version_output: str | None) -> tuple[str, bool]:
    """(implementation, real) for the server answering ``rest``. The emulator says so in every
    reply; a real server is recognised by ``tensorflow_model_server --version``, and without
    that output it counts as unverified, so no verdict rests on it."""
    reply = requests.get(f"{rest}/v1/models/{model}", timeout=10)
    if reply.headers.get(SERVED_BY) == EMULATOR:
        return EMULATOR, False
    found = MODEL_SERVER_VERSION.search(version_output or "")
    if found:
        return f"tensorflow_model_server {found.group(1)}", True
    return "tensorflow_model_server (unverified: no --version output)", False


def identify(stack: dict, version_output=lambda backend: None, ready=lambda *_: None) -> dict:
    """Fill in what each backend of ``stack`` is, where the record leaves it empty.
    ``version_output(backend)`` gives `tensorflow_model_server --version` run inside the server
    (through Docker or kubectl), or None where that cannot be done; ``ready(name, backend,
    models)`` its time to ready, or None where it cannot be measured. The monitoring record's
    Prometheus is asked its version too."""
    model = stack["models"][0]
    for name, backend in stack["backends"].items():
        if backend.get("ready_seconds") is None:
            backend["ready_seconds"] = ready(name, backend, stack["models"])
        if backend.get("implementation"):
            continue
        rest = backend["endpoints"]["rest"]
        if name == "diy":  # the baseline names itself in its /ping answer
            backend["implementation"] = diy_implementation(rest)
            backend["real"] = True
        elif name == "torchserve":
            backend["implementation"], backend["real"] = torchserve_implementation(rest), True
        else:
            backend["implementation"], backend["real"] = tfserving_implementation(
                rest, model, version_output(backend)
            )
    prometheus = stack.get("monitoring", {}).get("prometheus")
    if prometheus and not prometheus.get("implementation"):
        url = prometheus["endpoints"]["http"]
        try:
            prometheus["implementation"], prometheus["real"] = prometheus_implementation(url), True
        except requests.RequestException:
            # Its figures are only read where it can be reached; say so rather than guess.
            prometheus["implementation"] = f"prometheus (version not read: {url} not reachable)"
            prometheus["real"] = None
    return stack


def identified(stack: dict) -> bool:
    """Whether every server and monitoring service of ``stack`` names what it is."""
    services = {**stack["backends"], **stack.get("monitoring", {})}
    return all(service.get("implementation") for service in services.values())


# The line each server logs when a model has become servable, and the model it names.
LOADED = {
    "torchserve": re.compile(
        r"W-\d+-(?P<model>\S+?)_[\d.]+ State change \S+ -> WORKER_MODEL_LOADED"
    ),
    "tfserving": re.compile(
        r"Successfully loaded servable version \{name: (?P<model>\S+) version"  # TF Serving
        r"|tfserving-emulator: (?P<emulated>\S+): version \d+ loaded"  # the emulator
    ),
}


def ready_seconds_from_log(
    server: str, started: datetime, lines: list[str], models
) -> float | None:
    """Seconds from the container's start to the last of ``models`` logged as loaded, from
    `docker logs --timestamps` lines; None when one of them never was."""
    loaded: dict[str, datetime] = {}
    for line in lines:
        stamp, _, text = line.partition(" ")
        found = LOADED[server].search(text)
        if not found:
            continue
        model = found.group("model") or found.groupdict().get("emulated")
        when = parse_docker_time(stamp)
        if model in models and when >= started and model not in loaded:
            loaded[model] = when
    if set(loaded) != set(models):
        return None
    return round((max(loaded.values()) - started).total_seconds(), 2)


def parse_docker_time(stamp: str) -> datetime:
    """Docker's RFC 3339 times carry nanoseconds, which fromisoformat does not take."""
    stamp = stamp.rstrip("Z")
    whole, _, fraction = stamp.partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")
