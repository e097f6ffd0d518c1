"""The TorchServe handler, loaded from the .mar by TorchServe's own loader, without a server."""

import json
import math

import numpy as np
import pytest
from ts.utils.util import PredictionException

from servebench.export.torchserve import call_handler, load_mar_service
from servebench.models import MODELS
from servebench.payloads import sample_batch

RAW = "application/octet-stream"
JSON = "application/json"
SPEC = MODELS["mlp"]


@pytest.fixture(scope="module")
def service(artifacts, tmp_path_factory):
    return load_mar_service(artifacts.mar("mlp"), tmp_path_factory.mktemp("mar"))


def reject(service, name, content_type, value) -> str:
    with pytest.raises(PredictionException) as caught:
        call_handler(service, [(name, content_type, value)])
    assert caught.value.error_code == 400
    assert "expected float32 of shape [N,64] with 1 <= N <= 64" in caught.value.message
    return caught.value.message


def raw(batch: np.ndarray) -> bytes:
    return batch.astype("<f4").tobytes()


def test_raw_bytes_in_raw_float32_out(service):
    batch = sample_batch(SPEC, 3)
    (reply,) = call_handler(service, [("body", RAW, raw(batch))])
    assert np.frombuffer(reply, "<f4").shape == (30,)
    assert service.context.get_response_content_type(0) == RAW


def test_json_in_json_out(service):
    batch = sample_batch(SPEC, 2)
    # TorchServe's worker hands application/json bodies to the handler already decoded
    (reply,) = call_handler(service, [("body", JSON, batch.tolist())])
    assert service.context.get_response_content_type(0) == JSON
    logits = np.asarray(json.loads(reply)["logits"], dtype="<f4")
    (raw_reply,) = call_handler(service, [("body", RAW, raw(batch))])
    np.testing.assert_array_equal(logits, np.frombuffer(raw_reply, "<f4").reshape(2, 10))


def test_single_sample_without_batch_dimension(service):
    (reply,) = call_handler(service, [("body", JSON, {"inputs": [0.5] * 64})])
    assert np.asarray(json.loads(reply)["logits"]).shape == (1, 10)


def test_grpc_style_input_without_content_type_is_raw(service):
    (reply,) = call_handler(service, [("data", "", raw(sample_batch(SPEC, 1)))])
    assert len(reply) == 40


def test_each_request_in_a_server_batch_gets_its_own_reply(service):
    first, second = sample_batch(SPEC, 1, seed=1), sample_batch(SPEC, 4, seed=2)
    replies = call_handler(service, [("body", RAW, raw(first)), ("body", JSON, second.tolist())])
    assert len(replies[0]) == 40
    assert np.asarray(json.loads(replies[1])["logits"]).shape == (4, 10)


def test_unsupported_content_type(service):
    # TorchServe's worker decodes text/* bodies to str before the handler sees them
    message = reject(service, "body", "text/plain", json.dumps([[0.0] * 64]))
    assert "unsupported Content-Type text/plain" in message


def test_empty_body(service):
    assert "empty" in reject(service, "body", RAW, b"")


def test_malformed_json(service):
    # the worker forwards undecodable JSON as the raw bytes
    assert "malformed JSON" in reject(service, "body", JSON, b'{"inputs": [1, 2')


@pytest.mark.parametrize("document", [["a"] * 64, [[1.0] * 63 + ["x"]], [True] * 64, [None] * 64])
def test_non_numeric_values(service, document):
    assert "array of numbers" in reject(service, "body", JSON, document)


def test_ragged_json(service):
    assert "ragged" in reject(service, "body", JSON, [[1.0] * 64, [1.0] * 63])


def test_element_count_not_a_multiple_of_the_input(service):
    message = reject(service, "body", RAW, raw(np.zeros(100, np.float32)))
    assert "400 bytes, not a multiple of 256" in message


def test_wrong_json_shape(service):
    assert "shape [2, 32]" in reject(service, "body", JSON, [[1.0] * 32, [1.0] * 32])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values(service, bad):
    batch = sample_batch(SPEC, 2)
    batch[1, 7] = bad
    assert "NaN or Infinity" in reject(service, "body", RAW, raw(batch))
    assert "NaN or Infinity" in reject(service, "body", JSON, batch.tolist())


def test_batch_above_the_maximum(service):
    message = reject(service, "body", RAW, raw(sample_batch(SPEC, 65)))
    assert "batch of 65 is above the maximum of 64" in message
    (reply,) = call_handler(service, [("body", RAW, raw(sample_batch(SPEC, 64)))])
    assert len(reply) == 64 * 10 * 4


def test_keeps_serving_after_bad_input(service):
    reject(service, "body", RAW, b"\x00\x01\x02")
    (reply,) = call_handler(service, [("body", RAW, raw(sample_batch(SPEC, 1)))])
    assert np.isfinite(np.frombuffer(reply, "<f4")).all()
