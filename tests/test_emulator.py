"""The TF Serving emulator against TF Serving's documented REST and gRPC APIs."""

import json

import grpc
import numpy as np
import pytest
import requests
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from servebench.clients.tfserving_grpc import TFServingGrpcClient, tensor_proto
from servebench.models import MODELS
from servebench.payloads import sample_batch

BATCH = sample_batch(MODELS["mlp"], 2, seed=4)


@pytest.fixture(scope="module")
def rest(stack):
    return stack["backends"]["tfserving"]["endpoints"]["rest"]


@pytest.fixture(scope="module")
def channel(stack):
    with grpc.insecure_channel(stack["backends"]["tfserving"]["endpoints"]["grpc"]) as channel:
        yield channel


def post(rest, path, document):
    return requests.post(f"{rest}{path}", data=json.dumps(document), timeout=30)


def test_model_status(rest):
    reply = requests.get(f"{rest}/v1/models/mlp", timeout=5)
    assert reply.status_code == 200
    assert reply.headers["X-Served-By"] == "tfserving-emulator"
    assert reply.json() == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]}  # fmt: skip
    assert requests.get(f"{rest}/v1/models/mlp/versions/1", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("path", "message"),
    [("/v1/models/nope", "Could not find any versions of model nope"),
     ("/v1/models/mlp/versions/2", "Could not find version 2 of model mlp")],
)  # fmt: skip
def test_model_status_not_found(rest, path, message):
    reply = requests.get(f"{rest}{path}", timeout=5)
    assert reply.status_code == 404
    assert reply.json() == {"error": message}


def test_metadata_carries_the_signature(rest):
    metadata = requests.get(f"{rest}/v1/models/mlp/metadata", timeout=5).json()
    assert metadata["model_spec"] == {"name": "mlp", "version": "1", "signature_name": ""}
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["input"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in signature["inputs"]["input"]["tensor_shape"]["dim"]] == ["-1", "64"]
    assert list(signature["outputs"]) == ["logits"]


def test_row_and_columnar_forms_agree(rest):
    rows = post(rest, "/v1/models/mlp:predict", {"instances": BATCH.tolist()})
    document = {"signature_name": "serving_default", "inputs": {"input": BATCH.tolist()}}
    columns = post(rest, "/v1/models/mlp/versions/1:predict", document)
    assert rows.status_code == columns.status_code == 200
    assert list(rows.json()) == ["predictions"] and list(columns.json()) == ["outputs"]
    np.testing.assert_array_equal(rows.json()["predictions"], columns.json()["outputs"])
    assert np.asarray(rows.json()["predictions"]).shape == (2, 10)


@pytest.mark.parametrize(
    ("path", "document", "status", "message"),
    [
        ("/v1/models/mlp:predict", {"instances": [[0.0] * 64], "inputs": [[0.0] * 64]}, 400,
         "only one of 'inputs' or 'instances'"),
        ("/v1/models/mlp:predict", {"signature_name": "serving_default"}, 400,
         "Missing 'inputs' or 'instances' key"),
        ("/v1/models/mlp:predict", {"signature_name": "nope", "instances": [[0.0] * 64]}, 400,
         'Serving signature name: "nope" not found'),
        ("/v1/models/nope:predict", {"instances": [[0.0] * 64]}, 404,
         "Servable not found for request: Latest(nope)"),
        ("/v1/models/mlp/versions/7:predict", {"instances": [[0.0] * 64]}, 404,
         "Servable not found for request: Specific(mlp, 7)"),
        ("/v1/models/mlp/versions/x:predict", {"instances": [[0.0] * 64]}, 400,
         "Malformed request: POST /v1/models/mlp/versions/x:predict"),
        ("/v1/models/mlp:predict", {"instances": [[0.0] * 64] * 65}, 400, "above the maximum"),
        ("/v1/models/mlp:classify", {"examples": []}, 400, "'examples' value is an empty array"),
        ("/v1/models/mlp:classify", {"examples": [{"x": 1.0}]}, 400,
         "No classification inputs found in SignatureDef"),
    ],
)  # fmt: skip
def test_rest_errors_use_tf_serving_status_codes_and_format(rest, path, document, status, message):
    reply = post(rest, path, document)
    assert reply.status_code == status
    assert list(reply.json()) == ["error"]
    assert message in reply.json()["error"]


def test_rest_ignores_content_type_like_tf_serving(rest):
    reply = requests.post(f"{rest}/v1/models/mlp:predict", timeout=30,
                          data=json.dumps({"instances": BATCH.tolist()}),
                          headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert reply.status_code == 200


def test_grpc_model_status(channel):
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "mlp"
    (status,) = stub.GetModelStatus(request, timeout=10).model_version_status
    assert status.version == 1 and status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetModelStatus(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_grpc_metadata(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "mlp"
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetModelMetadata(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    request.metadata_field.append("signature_def")
    reply = stub.GetModelMetadata(request, timeout=10)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    reply.metadata["signature_def"].Unpack(signatures)
    assert "serving_default" in signatures.signature_def


def test_grpc_predict_status_codes(stack):
    with TFServingGrpcClient(
        stack["backends"]["tfserving"]["endpoints"]["grpc"], MODELS["mlp"]
    ) as client:
        reply = client.send(client.request({"input": tensor_proto(BATCH)}))
        assert reply.model_spec.name == "mlp" and reply.model_spec.version.value == 1
        assert list(reply.outputs) == ["logits"]
        with pytest.raises(Exception) as caught:
            client.send(client.request({"input": tensor_proto(BATCH)}, version=5))
        assert caught.value.status == "NOT_FOUND"
        request = client.request({"input": tensor_proto(BATCH)})
        request.output_filter.append("nope")
        with pytest.raises(Exception) as caught:
            client.send(request)
        assert caught.value.status == "INVALID_ARGUMENT"


def test_grpc_classify_on_a_predict_model_is_invalid_argument(channel):
    """mlp's signature has no serialized-Example "inputs": TF Serving refuses to classify."""
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "mlp"
    request.input.example_list.examples.add()
    with pytest.raises(grpc.RpcError) as caught:
        stub.Classify(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_prometheus_metrics_use_tf_serving_names(stack, rest):
    with TFServingGrpcClient(
        stack["backends"]["tfserving"]["endpoints"]["grpc"], MODELS["mlp"]
    ) as client:
        client.predict(BATCH)
    post(rest, "/v1/models/mlp:predict", {"instances": BATCH.tolist()})
    post(rest, "/v1/models/mlp:predict", {"instances": [[float("nan")] * 64]})
    text = requests.get(stack["backends"]["tfserving"]["endpoints"]["metrics"], timeout=5).text
    assert "# TYPE :tensorflow:serving:request_count counter" in text
    assert ':tensorflow:serving:request_count{model_name="mlp",status="OK"}' in text
    assert ':tensorflow:serving:request_count{model_name="mlp",status="INVALID_ARGUMENT"}' in text
    # TF Serving's labels: the RPC's name over gRPC, the URL's method over REST
    for api, entrypoint in (("predict", "REST"), ("Predict", "GRPC")):
        labels = f'model_name="mlp",API="{api}",entrypoint="{entrypoint}"'
        assert f':tensorflow:serving:request_latency_bucket{{{labels},le="+Inf"}}' in text
        assert f":tensorflow:serving:request_latency_count{{{labels}}}" in text
