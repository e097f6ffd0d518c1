"""TF Serving's gRPC API, on the servicer base classes that tensorflow_serving.apis ships."""

from __future__ import annotations

import time

import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from servebench.backends.tfserving_emulator.inference import classify, multi_inference, regress
from servebench.backends.tfserving_emulator.metrics import ServingMetrics
from servebench.backends.tfserving_emulator.servables import (
    DEFAULT_SIGNATURE,
    ServableRegistry,
    ServingError,
    invalid,
)
from servebench.backends.tfserving_emulator.status import (
    SIGNATURE_DEF_FIELD,
    metadata_response,
    model_status_response,
)


def _version(model_spec) -> int | None:
    return model_spec.version.value if model_spec.HasField("version") else None


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict, GetModelMetadata, Classify, Regress and MultiInference. As in TF Serving, a
    run's deadline is the call's (enforce_session_run_timeout), and Predict, Classify and
    Regress are counted and timed under their RPC's name; the other two are not recorded."""

    def __init__(self, registry: ServableRegistry, metrics: ServingMetrics) -> None:
        self.registry = registry
        self.metrics = metrics

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        return self._recorded("Predict", self._predict, request, context)

    def Classify(self, request, context):  # noqa: N802
        return self._recorded("Classify", self._classify, request, context)

    def Regress(self, request, context):  # noqa: N802
        return self._recorded("Regress", self._regress, request, context)

    def MultiInference(self, request, context):  # noqa: N802
        try:
            return multi_inference(self.registry, request)
        except ServingError as exc:
            context.abort(exc.code, exc.message)

    def _recorded(self, api: str, handler, request, context):
        started, status = time.perf_counter(), "OK"
        try:
            return handler(request, context.time_remaining())
        except ServingError as exc:
            status = exc.code.name
            context.abort(exc.code, exc.message)
        finally:
            self.metrics.observe(
                request.model_spec.name, api, "GRPC", status, time.perf_counter() - started
            )

    def _predict(self, request, timeout_s: float | None) -> predict_pb2.PredictResponse:
        servable = self.registry.get(request.model_spec.name, _version(request.model_spec))
        signature = request.model_spec.signature_name
        servable.signature_def(signature)
        inputs = {alias: _to_array(alias, proto) for alias, proto in request.inputs.items()}
        outputs = servable.predict(signature, inputs, list(request.output_filter), timeout_s)
        response = predict_pb2.PredictResponse()
        _fill_spec(response.model_spec, servable, signature)
        for alias, array in outputs.items():
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(array))
        return response

    def _classify(self, request, timeout_s: float | None):
        servable = self.registry.get(request.model_spec.name, _version(request.model_spec))
        signature = request.model_spec.signature_name
        response = classification_pb2.ClassificationResponse()
        response.result.CopyFrom(classify(servable, signature, request.input, timeout_s))
        _fill_spec(response.model_spec, servable, signature)
        return response

    def _regress(self, request, timeout_s: float | None):
        servable = self.registry.get(request.model_spec.name, _version(request.model_spec))
        signature = request.model_spec.signature_name
        response = regression_pb2.RegressionResponse()
        response.result.CopyFrom(regress(servable, signature, request.input, timeout_s))
        _fill_spec(response.model_spec, servable, signature)
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            fields = list(request.metadata_field)
            if not fields:
                raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
            unsupported = [field for field in fields if field != SIGNATURE_DEF_FIELD]
            if unsupported:
                raise invalid(f"Metadata field {unsupported[0]} is not supported")
            servable = self.registry.get(request.model_spec.name, _version(request.model_spec))
            return metadata_response(servable)
        except ServingError as exc:
            context.abort(exc.code, exc.message)


def _fill_spec(spec, servable, signature: str) -> None:
    spec.name = servable.name
    spec.version.value = servable.version
    spec.signature_name = signature or DEFAULT_SIGNATURE


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus; HandleReloadConfigRequest answers UNIMPLEMENTED."""

    def __init__(self, registry: ServableRegistry) -> None:
        self.registry = registry

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            servables = self.registry.status(request.model_spec.name, _version(request.model_spec))
            return model_status_response(servables)
        except ServingError as exc:
            context.abort(exc.code, exc.message)


def _to_array(alias: str, proto):
    try:
        return tf.make_ndarray(proto)
    except (ValueError, TypeError) as exc:
        raise invalid(f"tensor parsing error: {alias} ({exc})") from None
