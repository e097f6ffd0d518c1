"""`make engine`: what it says where it cannot start an engine, and the stand-ins it built."""

import subprocess

import pytest

from servebench.backends.process import free_port

from .conftest import REPO
from .containers import require_engine

STAND_INS = {
    "python:3.11-slim-bookworm": "python:3.11-slim-bookworm",
    "pytorch/torchserve:0.12.0-cpu": "pytorch/torchserve:0.12.0-cpu",
    "prom/prometheus:v2.53.5": "prom/prometheus",
    "tensorflow/serving:2.20.0": "tensorflow/serving:2.20.0",
}


@pytest.mark.parametrize(("flags", "code"), [([], 2), (["--if-possible"], 0)])
def test_without_root_or_an_engine_it_says_what_to_do(flags, code):
    # As an unprivileged user, with Docker's client pointed at a port where nothing answers.
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         "env", f"DOCKER_HOST=tcp://127.0.0.1:{free_port()}", "bash", "scripts/engine.sh", *flags],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == code, result.stdout + result.stderr
    assert "only root can start one here" in result.stderr
    assert "DOCKER_HOST" in result.stderr


def inspect_format(image: str, template: str) -> str:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", template, image], capture_output=True, text=True
    )
    assert result.returncode == 0, f"{image} is missing: run `make engine`"
    return result.stdout.strip()


@pytest.mark.parametrize("image", STAND_INS)
def test_an_image_that_cannot_be_pulled_is_a_labelled_stand_in(image):
    require_engine()
    labels = inspect_format(image, "{{json .Config.Labels}}")
    if '"org.servebench.stand-in":"true"' not in labels:
        pytest.skip(f"{image} is the official image here, not a stand-in")
    assert f'"org.servebench.stands-in-for":"{STAND_INS[image]}"' in labels


def test_the_tf_serving_stand_in_says_it_is_the_emulator():
    require_engine()
    labels = inspect_format("tensorflow/serving:2.20.0", "{{json .Config.Labels}}")
    version = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "tensorflow_model_server",
         "tensorflow/serving:2.20.0", "--version"],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    if '"org.servebench.stand-in":"true"' in labels:
        assert "emulator" in version and "TensorFlow ModelServer:" not in version
    else:
        assert "TensorFlow ModelServer:" in version
