"""TF Serving's gRPC API, on the servicer base classes that tensorflow_serving.apis ships."""

from __future__ import annotations

import time

import tensorflow as tf
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from servebench.backends.tfserving_emulator.metrics import ServingMetrics
from servebench.backends.tfserving_emulator.servables import (
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
    """Predict and GetModelMetadata; Classify, Regress and MultiInference answer UNIMPLEMENTED."""

    def __init__(self, registry: ServableRegistry, metrics: ServingMetrics) -> None:
        self.registry = registry
        self.metrics = metrics

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        started, status = time.perf_counter(), "OK"
        try:
            servable = self.registry.get(request.model_spec.name, _version(request.model_spec))
            signature = request.model_spec.signature_name
            servable.signature_def(signature)
            inputs = {alias: _to_array(alias, proto) for alias, proto in request.inputs.items()}
            outputs = servable.predict(signature, inputs, list(request.output_filter))
            response = predict_pb2.PredictResponse()
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
            response.model_spec.signature_name = signature or "serving_default"
            for alias, array in outputs.items():
                response.outputs[alias].CopyFrom(tf.make_tensor_proto(array))
            return response
        except ServingError as exc:
            status = exc.code.name
            context.abort(exc.code, exc.message)
        finally:
            self.metrics.observe(
                request.model_spec.name, "GRPC", status, time.perf_counter() - started
            )

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
