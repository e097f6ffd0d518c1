"""What answers, found out at run time: time to ready read from a container's timestamped
log, for each server's own wording, and Prometheus's version asked of Prometheus."""

import json

import pytest
import requests

from servebench.backends.detect import (
    identified,
    identify,
    parse_docker_time,
    ready_seconds_from_log,
)
from servebench.metrics.prometheus import PrometheusServer

from .conftest import REPO

STARTED = parse_docker_time("2026-11-27T11:45:00.000000000Z")
TORCHSERVE = [
    "2026-11-27T11:45:05.100000000Z Model server started.",
    "2026-11-27T11:45:07.250000000Z 2026-11-27T11:45:07,250 [INFO ] W-9000-mlp_1.0 "
    "org.pytorch.serve.wlm.WorkerThread - W-9000-mlp_1.0 State change WORKER_STARTED -> "
    "WORKER_MODEL_LOADED",
    "2026-11-27T11:45:09.500000000Z 2026-11-27T11:45:09,500 [INFO ] W-9001-resnet18_1.0 "
    "org.pytorch.serve.wlm.WorkerThread - W-9001-resnet18_1.0 State change WORKER_STARTED -> "
    "WORKER_MODEL_LOADED",
]
EMULATOR = [
    "2026-11-27T11:45:01.000000000Z tfserving-emulator: an emulator of TF Serving's APIs",
    "2026-11-27T11:45:04.120000000Z tfserving-emulator: mlp: version 1 loaded from /a/mlp/1",
]
TF_SERVING = [
    "2026-11-27T11:45:03.000000000Z 2026-11-27 11:45:03.000: I tensorflow_serving/core/"
    "loader_harness.cc:95] Successfully loaded servable version {name: mlp version: 1}",
]


@pytest.mark.parametrize(
    ("server", "lines", "models", "expected"),
    [
        ("torchserve", TORCHSERVE, ["mlp", "resnet18"], 9.5),
        ("torchserve", TORCHSERVE, ["mlp"], 7.25),
        ("tfserving", EMULATOR, ["mlp"], 4.12),
        ("tfserving", TF_SERVING, ["mlp"], 3.0),
    ],
)
def test_ready_is_the_last_model_loaded_after_the_start(server, lines, models, expected):
    assert ready_seconds_from_log(server, STARTED, lines, models) == expected


def test_a_model_never_loaded_gives_no_figure_rather_than_zero():
    assert ready_seconds_from_log("tfserving", STARTED, EMULATOR, ["mlp", "resnet18"]) is None
    # A load logged before this start (an earlier run of the container) does not count.
    later = parse_docker_time("2026-11-27T11:50:00Z")
    assert ready_seconds_from_log("torchserve", later, TORCHSERVE, ["mlp"]) is None


@pytest.fixture
def prometheus(tmp_path):
    """The real Prometheus, started and awaited as `up` does it, with nothing to scrape."""
    server = PrometheusServer(tmp_path, [])
    server.start()
    try:
        yield server.wait_ready(30)
    finally:
        server.stop()


def test_prometheus_is_named_by_the_version_its_api_reports(prometheus):
    url = prometheus.endpoints["http"]
    build = requests.get(f"{url}/api/v1/status/buildinfo", timeout=5).json()["data"]
    assert prometheus.implementation == f"prometheus {build['version']}"  # local mode
    # Compose's record as the harness reads it, pointed at this Prometheus; its servers are
    # taken as identified already, since none runs here.
    record = json.loads((REPO / "services/harness/stack.compose.json").read_text())
    for backend in record["backends"].values():
        backend |= {"implementation": "identified", "real": True, "ready_seconds": 1.0}
    record["monitoring"]["prometheus"]["endpoints"]["http"] = url
    assert not identified(record)
    monitoring = identify(record)["monitoring"]["prometheus"]
    assert monitoring["implementation"] == f"prometheus {build['version']}"
    assert monitoring["real"] is True and identified(record)
