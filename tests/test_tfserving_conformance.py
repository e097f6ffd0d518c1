"""TF Serving conformance: behaviour that TF Serving documents (api_rest.md, the protos in
tensorflow-serving-api, its server's flags), checked over the wire, REST and gRPC.

By default these tests start the servebench TF Serving emulator. To hold the real server to
the same tests, pass its binary:

    python -m pytest -p no:locust tests/test_tfserving_conformance.py \\
        --tfserving-bin /usr/bin/tensorflow_model_server

Every test then starts that binary, with the same flags, instead of the emulator. The models
are exported by the tests themselves (a tiny tf.Module with predict, classify and regress
signatures, and two Keras models) into a temporary folder.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow.core.example import example_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from servebench.backends.process import free_port

EMULATOR = [sys.executable, "-m", "servebench.backends.tfserving_emulator"]
METRICS_PATH = "/monitoring/prometheus/metrics"
REST_TIMEOUT_MS = 2000


# --- the models --------------------------------------------------------------------------


class Tiny(tf.Module):
    """y = x/2 + 2 in several signatures: predict, one whose graph needs rank 2, classify and
    regress on serialized tf.Examples, and one that sleeps (for the REST timeout)."""

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    def predict(self, x):
        return {"y": x * 0.5 + 2.0}

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def matmul(self, x):
        return {"y": tf.matmul(x, tf.ones([2, 1]))}

    def _parse(self, serialized):
        spec = {
            "x": tf.io.FixedLenFeature([1], tf.float32),
            "bias": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
        }
        features = tf.io.parse_example(serialized, spec)
        return features["x"] * 0.5 + 2.0 + features["bias"]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(self, serialized):
        y = self._parse(serialized)
        labels = tf.tile(tf.constant([["y", "minus_y"]]), [tf.shape(y)[0], 1])
        return {"classes": labels, "scores": tf.concat([y, -y], axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress(self, serialized):
        return {"outputs": self._parse(serialized)}

    @tf.function(input_signature=[tf.TensorSpec([], tf.int64, name="micros")])
    def slow(self, micros):
        from tensorflow.python.data.experimental.ops import testing

        waited = tf.data.Dataset.from_tensors(micros).apply(testing.sleep(micros))
        return {"slept": waited.reduce(tf.constant(0, tf.int64), lambda total, v: total + v)}


METHODS = {"classify_x": "tensorflow/serving/classify", "regress_x": "tensorflow/serving/regress"}


def export_tiny(folder: Path) -> None:
    module = Tiny()
    signatures = {
        "serving_default": module.predict,
        "matmul": module.matmul,
        "classify_x": module.classify,
        "regress_x": module.regress,
        "slow": module.slow,
    }
    tf.saved_model.save(module, str(folder), signatures=signatures)
    # tf.saved_model.save names every signature a predict one; TF Serving's classify and
    # regress signatures carry their own method names, as Estimator exports wrote them.
    path = folder / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    for key, method in METHODS.items():
        saved_model.meta_graphs[0].signature_def[key].method_name = method
    path.write_bytes(saved_model.SerializeToString())


def export_keras(folder: Path, how: str) -> None:
    """A Keras model whose Input is named "x", y = x: saved by tf.saved_model.save (its
    signature's input key is then the call's argument, "inputs") or by Keras' export ("x")."""
    import keras

    inputs = keras.Input(shape=(1,), name="x")
    outputs = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")(inputs)
    model = keras.Model(inputs, outputs)
    if how == "saved_model_save":
        tf.saved_model.save(model, str(folder))
    else:
        model.export(str(folder), verbose=False)


KERAS = ("saved_model_save", "keras_export")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    # Zero-padded 00000123 and a plain 9: by name "9" sorts last, by number 123 is newest.
    export_tiny(root / "tiny" / "00000123")
    export_tiny(root / "tiny" / "9")
    for how in KERAS:
        export_keras(root / f"keras_{how}" / "1", how)
    return {path.name: path for path in root.iterdir()}


def config_text(models: dict[str, Path]) -> str:
    entries = "".join(
        f'  config {{ name: "{name}" base_path: "{base}" model_platform: "tensorflow" }}\n'
        for name, base in sorted(models.items())
    )
    return f"model_config_list {{\n{entries}}}\n"


# --- the server --------------------------------------------------------------------------


def server_program(config) -> list[str]:
    binary = config.getoption("--tfserving-bin")
    return [str(binary)] if binary else list(EMULATOR)


def wait_available(rest: str, names, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            if all(_available(rest, name) for name in names):
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"models {sorted(names)} not AVAILABLE in {seconds} s")


def _available(rest: str, name: str) -> bool:
    reply = requests.get(f"{rest}/v1/models/{name}", timeout=5)
    states = [v["state"] for v in reply.json().get("model_version_status", [])]
    return reply.status_code == 200 and "AVAILABLE" in states


@pytest.fixture(scope="module")
def server(request, models, tmp_path_factory):
    """One server for the module, started with the flags under test."""
    folder = tmp_path_factory.mktemp("server")
    config = folder / "models.config"
    config.write_text(config_text(models))
    monitoring = folder / "monitoring.config"
    monitoring.write_text(f'prometheus_config {{ enable: true path: "{METRICS_PATH}" }}\n')
    socket = folder / "grpc.sock"
    grpc_port, rest_port = free_port(), free_port()
    flags = [
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={config}",
        "--model_config_file_poll_wait_seconds=1",
        f"--monitoring_config_file={monitoring}",
        f"--grpc_socket_path={socket}",
        "--grpc_channel_arguments=grpc.max_connection_idle_ms=60000,grpc.http2.max_pings_without_data=0",
        f"--rest_api_timeout_in_ms={REST_TIMEOUT_MS}",
        "--prefer_tflite_model=false",
    ]
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [*server_program(request.config), *flags],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    rest = f"http://127.0.0.1:{rest_port}"
    try:
        try:
            wait_available(rest, models, process)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{(folder / 'server.log').read_text()[-3000:]}") from None
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            yield {
                "rest": rest,
                "channel": channel,
                "stub": prediction_service_pb2_grpc.PredictionServiceStub(channel),
                "config": config,
                "models": models,
                "socket": socket,
                "process": process,
            }
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def post(server, path: str, document: dict) -> requests.Response:
    return requests.post(f"{server['rest']}{path}", data=json.dumps(document), timeout=60)


def predict_request(model: str, alias: str, array, signature: str = "", version=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    request.inputs[alias].CopyFrom(tf.make_tensor_proto(np.asarray(array, dtype=np.float32)))
    return request


def example(**features: float) -> example_pb2.Example:
    proto = example_pb2.Example()
    for name, value in features.items():
        proto.features.feature[name].float_list.value.append(value)
    return proto


# --- 1. version folders ------------------------------------------------------------------


def test_version_folders_are_integers_and_the_numerically_newest_is_served(server):
    reply = requests.get(f"{server['rest']}/v1/models/tiny", timeout=10)
    assert reply.status_code == 200
    assert [v["version"] for v in reply.json()["model_version_status"]] == ["123"]
    rest = post(server, "/v1/models/tiny/versions/123:predict", {"instances": [[2.0]]})
    assert rest.status_code == 200 and rest.json() == {"predictions": [[3.0]]}
    grpc_reply = server["stub"].Predict(predict_request("tiny", "x", [[2.0]]), timeout=30)
    assert grpc_reply.model_spec.version.value == 123


# --- 2. input shapes ---------------------------------------------------------------------


def test_a_shape_the_graph_accepts_is_served_as_given(server):
    """[3] for a [?,1] signature: no shape check beyond the graph's; x/2 + 2 runs on [3]."""
    rest = post(server, "/v1/models/tiny:predict", {"instances": [1.0, 2.0, 5.0]})
    assert rest.status_code == 200, rest.text
    assert rest.json() == {"predictions": [2.5, 3.0, 4.5]}
    reply = server["stub"].Predict(predict_request("tiny", "x", [1.0, 2.0, 5.0]), timeout=30)
    np.testing.assert_allclose(tf.make_ndarray(reply.outputs["y"]), [2.5, 3.0, 4.5])


def test_a_shape_the_graph_refuses_is_the_graphs_invalid_argument(server):
    rest = post(server, "/v1/models/tiny:predict",
                {"signature_name": "matmul", "instances": [1.0, 2.0]})  # fmt: skip
    assert rest.status_code == 400 and list(rest.json()) == ["error"]
    with pytest.raises(grpc.RpcError) as caught:
        server["stub"].Predict(predict_request("tiny", "x", [1.0, 2.0], "matmul"), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# --- 3. Keras SavedModels: the signature's input keys -------------------------------------


def signature_inputs(server, model: str) -> list[str]:
    reply = requests.get(f"{server['rest']}/v1/models/{model}/metadata", timeout=10)
    signatures = reply.json()["metadata"]["signature_def"]["signature_def"]
    return list(signatures["serving_default"]["inputs"])


@pytest.mark.parametrize("how", KERAS)
def test_keras_inputs_are_named_by_the_signatures_input_keys(server, how):
    model = f"keras_{how}"
    (key,) = signature_inputs(server, model)
    assert key == ("inputs" if how == "saved_model_save" else "x")
    bare = post(server, f"/v1/models/{model}:predict", {"instances": [[1.5], [2.5]]})
    named = post(server, f"/v1/models/{model}:predict", {"instances": [{key: [1.5]}]})
    columns = post(server, f"/v1/models/{model}:predict", {"inputs": {key: [[1.5]]}})
    assert bare.status_code == named.status_code == columns.status_code == 200, bare.text
    assert bare.json()["predictions"] == [[1.5], [2.5]]
    reply = server["stub"].Predict(predict_request(model, key, [[1.5]]), timeout=30)
    assert list(reply.outputs) == ["output_0"]


# --- 4. metadata over REST ---------------------------------------------------------------


def test_rest_metadata_has_tf_servings_layout(server):
    reply = requests.get(f"{server['rest']}/v1/models/tiny/metadata", timeout=10)
    assert reply.status_code == 200
    document = reply.json()
    assert list(document) == ["model_spec", "metadata"]
    assert document["model_spec"] == {"name": "tiny", "signature_name": "", "version": "123"}
    assert list(document["metadata"]) == ["signature_def"]
    # the SignatureDefMap itself: no "@type" wrapper anywhere
    assert list(document["metadata"]["signature_def"]) == ["signature_def"]
    assert "@type" not in reply.text
    signatures = document["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "classify_x", "regress_x"} <= set(signatures)
    x = signatures["serving_default"]["inputs"]["x"]
    assert x["dtype"] == "DT_FLOAT"
    assert x["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}, {"size": "1", "name": ""}],
                                 "unknown_rank": False}  # fmt: skip
    assert signatures["classify_x"]["method_name"] == "tensorflow/serving/classify"


# --- 5. Classify, Regress, MultiInference ------------------------------------------------


def test_classify_over_grpc_and_rest(server):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = "tiny", "classify_x"
    request.input.example_list.examples.extend([example(x=2.0), example(x=4.0)])
    reply = server["stub"].Classify(request, timeout=30)
    assert reply.model_spec.version.value == 123
    got = [[(c.label, c.score) for c in row.classes] for row in reply.result.classifications]
    assert got == [[("y", 3.0), ("minus_y", -3.0)], [("y", 4.0), ("minus_y", -4.0)]]
    rest = post(server, "/v1/models/tiny:classify",
                {"signature_name": "classify_x", "examples": [{"x": 2.0}]})  # fmt: skip
    assert rest.status_code == 200, rest.text
    assert rest.json() == {"results": [[["y", 3.0], ["minus_y", -3.0]]]}


def test_regress_over_grpc_and_rest_with_a_context(server):
    request = regression_pb2.RegressionRequest()
    request.model_spec.name, request.model_spec.signature_name = "tiny", "regress_x"
    with_context = request.input.example_list_with_context
    with_context.context.CopyFrom(example(bias=10.0))
    with_context.examples.extend([example(x=2.0), example(x=6.0)])
    reply = server["stub"].Regress(request, timeout=30)
    assert [r.value for r in reply.result.regressions] == [13.0, 15.0]
    rest = post(server, "/v1/models/tiny/versions/123:regress",
                {"signature_name": "regress_x", "context": {"bias": 1.0},
                 "examples": [{"x": 2.0}, {"x": 4.0}]})  # fmt: skip
    assert rest.status_code == 200, rest.text
    assert rest.json() == {"results": [4.0, 5.0]}


def test_multi_inference_runs_each_task_on_the_same_examples(server):
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in METHODS.items():
        task = request.tasks.add()
        task.model_spec.name, task.model_spec.signature_name = "tiny", signature
        task.method_name = method
    request.input.example_list.examples.append(example(x=2.0))
    reply = server["stub"].MultiInference(request, timeout=30)
    classified, regressed = reply.results
    assert classified.classification_result.classifications[0].classes[0].score == 3.0
    assert [r.value for r in regressed.regression_result.regressions] == [3.0]
    assert regressed.model_spec.signature_name == "regress_x"


def test_classify_on_a_signature_without_examples_is_invalid_argument(server):
    rest = post(server, "/v1/models/tiny:classify", {"examples": [{"x": 2.0}]})
    assert rest.status_code == 400 and list(rest.json()) == ["error"]


# --- 6. flags ----------------------------------------------------------------------------


def test_a_changed_model_config_file_is_picked_up(server):
    models = {**server["models"], "reloaded": server["models"]["tiny"]}
    server["config"].write_text(config_text(models))
    try:
        wait_available(server["rest"], ["reloaded"], server["process"], seconds=60)
        rest = post(server, "/v1/models/reloaded:predict", {"instances": [[2.0]]})
        assert rest.json() == {"predictions": [[3.0]]}
    finally:
        server["config"].write_text(config_text(server["models"]))
    deadline = time.monotonic() + 60
    while post(server, "/v1/models/reloaded:predict", {"instances": [[2.0]]}).status_code != 404:
        assert time.monotonic() < deadline, "a model dropped from the config is still served"
        time.sleep(0.5)


def test_grpc_on_a_unix_socket(server):
    with grpc.insecure_channel(f"unix:{server['socket']}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        reply = stub.Predict(predict_request("tiny", "x", [[2.0]]), timeout=30)
    assert tf.make_ndarray(reply.outputs["y"]).tolist() == [[3.0]]


def test_grpc_channel_arguments_are_accepted(server):
    """The server runs with --grpc_channel_arguments set and answers over gRPC."""
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "tiny"
    request.metadata_field.append("signature_def")
    assert server["stub"].GetModelMetadata(request, timeout=30).model_spec.version.value == 123


def test_a_rest_call_past_rest_api_timeout_in_ms_is_deadline_exceeded(server):
    quick = post(server, "/v1/models/tiny:predict",
                 {"signature_name": "slow", "inputs": {"micros": 1000}})  # fmt: skip
    assert quick.status_code == 200, quick.text
    started = time.monotonic()
    four_timeouts = 4 * REST_TIMEOUT_MS * 1000
    slow = post(server, "/v1/models/tiny:predict",
                {"signature_name": "slow", "inputs": {"micros": four_timeouts}})  # fmt: skip
    assert slow.status_code == 504 and list(slow.json()) == ["error"], slow.text
    assert time.monotonic() - started < 3 * REST_TIMEOUT_MS / 1000


# --- 7. a bad model config ---------------------------------------------------------------


def test_a_malformed_model_config_file_fails_the_start_naming_it(request, tmp_path):
    config = tmp_path / "bad_models.config"
    config.write_text("improperly formatted file\n")
    result = subprocess.run(
        [*server_program(request.config), f"--port={free_port()}", f"--model_config_file={config}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 255, result.stdout + result.stderr
    assert "Error parsing text-format tensorflow.serving.ModelServerConfig" in result.stderr
    failure = [line for line in result.stdout.splitlines() if "Failed to start server" in line]
    assert failure == [f"Failed to start server. Error: INVALID_ARGUMENT: Invalid protobuf "
                       f"file: '{config}'"], result.stdout  # fmt: skip


# --- 8. metric labels --------------------------------------------------------------------


def test_metrics_label_each_api_as_tf_serving_does(server):
    stub = server["stub"]
    stub.Predict(predict_request("tiny", "x", [[2.0]]), timeout=30)
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name, classify.model_spec.signature_name = "tiny", "classify_x"
    classify.input.example_list.examples.append(example(x=2.0))
    stub.Classify(classify, timeout=30)
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name, regress.model_spec.signature_name = "tiny", "regress_x"
    regress.input.CopyFrom(classify.input)
    stub.Regress(regress, timeout=30)
    assert post(server, "/v1/models/tiny:predict", {"instances": [[2.0]]}).status_code == 200
    text = requests.get(f"{server['rest']}{METRICS_PATH}", timeout=10).text
    for api, entrypoint in [("Predict", "GRPC"), ("Classify", "GRPC"), ("Regress", "GRPC"),
                            ("predict", "REST")]:  # fmt: skip
        labels = f'model_name="tiny",API="{api}",entrypoint="{entrypoint}"'
        assert f":tensorflow:serving:request_latency_count{{{labels}}}" in text, api
    assert ':tensorflow:serving:request_count{model_name="tiny",status="OK"}' in text
    for never in ('API="predict",entrypoint="GRPC"', 'API="GetModelMetadata"',
                  'API="MultiInference"'):  # fmt: skip
        assert never not in text
