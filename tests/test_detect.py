"""Time to ready read from a container's timestamped log, for each server's own wording."""

import pytest

from servebench.backends.detect import parse_docker_time, ready_seconds_from_log

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
