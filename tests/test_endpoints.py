"""The four clients against the running stack: same numbers, reused connections, clear errors."""

import re

import numpy as np
import pytest

from servebench.clients import TARGETS, ClientError, make_client
from servebench.export.exporter import torch_predict
from servebench.models import MODELS
from servebench.models.weights import load_state
from servebench.payloads import sample_batch

from .conftest import run_cli


def test_parity_through_all_four_endpoints(stack):
    result = run_cli("parity", "--endpoints", "--state-dir", stack["state_dir"])
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"(resnet18|mlp)\s", line)]
    assert len(rows) == 2 * 4 * 2  # models x endpoints x batch sizes
    for target in TARGETS:
        assert sum(target in row for row in rows) == 4
    assert all(row.rstrip().endswith("yes") for row in rows)
    assert "[tfserving-emulator]" in result.stdout and "[torchserve 0.12.0]" in result.stdout
    assert "NOT by the real server" in result.stdout


@pytest.mark.parametrize(
    ("target", "options"),
    [("torchserve-rest", {"json": True}), ("torchserve-grpc", {"json": True}),
     ("tfserving-rest", {"form": "row"})],
)  # fmt: skip
def test_alternative_encodings_give_the_same_logits(stack, artifacts, target, options):
    spec = MODELS["mlp"]
    batch = sample_batch(spec, 3, seed=11)
    reference = torch_predict(spec, load_state(MODELS["mlp"], artifacts.weights("mlp")))(batch)
    with make_client(target, stack, spec, **options) as client:
        np.testing.assert_allclose(client.predict(batch), reference, atol=1e-5)


@pytest.mark.parametrize("target", TARGETS)
def test_client_reuses_its_connection_and_reports_ready(stack, target):
    spec = MODELS["mlp"]
    with make_client(target, stack, spec) as client:
        assert client.ready()
        first = client.predict(sample_batch(spec, 2))
        for _ in range(20):
            np.testing.assert_array_equal(client.predict(sample_batch(spec, 2)), first)


@pytest.mark.parametrize("target", TARGETS)
def test_refusal_arrives_as_client_error_with_the_server_message(stack, target):
    spec = MODELS["mlp"]
    batch = sample_batch(spec, 1)
    batch[0, 0] = np.nan
    with make_client(target, stack, spec) as client, pytest.raises(ClientError) as caught:
        client.predict(batch)
    assert caught.value.status in ("HTTP 400", "INVALID_ARGUMENT")
    assert "NaN or Infinity" in caught.value.message


def test_client_for_a_stopped_server_is_not_ready():
    from servebench.backends.process import free_port
    from servebench.clients.torchserve_rest import TorchServeRestClient

    client = TorchServeRestClient(f"http://127.0.0.1:{free_port()}", MODELS["mlp"], timeout=2)
    assert not client.ready()
    with pytest.raises(ClientError) as caught:
        client.predict(sample_batch(MODELS["mlp"], 1))
    assert caught.value.status == "CONNECTION"
