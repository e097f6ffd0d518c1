"""TF Serving's gRPC PredictionService, with TensorProtos built straight from array bytes."""

from __future__ import annotations

import grpc
import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from servebench.clients.base import DEFAULT_TIMEOUT_S, GRPC_MESSAGE_OPTIONS, Client, ClientError
from servebench.models import ModelSpec

SIGNATURE = "serving_default"


def tensor_proto(array: np.ndarray, dtype: int = types_pb2.DT_FLOAT) -> tensor_pb2.TensorProto:
    """A TensorProto whose tensor_content is the array's little-endian bytes, as-is."""
    shape = tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape]
    )
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape, tensor_content=array.tobytes())


class TFServingGrpcClient(Client):
    target = "tfserving-grpc"

    def __init__(self, endpoint: str, spec: ModelSpec, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(endpoint, spec, timeout)
        self.channel = grpc.insecure_channel(endpoint, options=GRPC_MESSAGE_OPTIONS)
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def request(
        self,
        inputs: dict[str, tensor_pb2.TensorProto],
        model: str | None = None,
        version: int | None = None,
    ) -> predict_pb2.PredictRequest:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model or self.spec.name
        request.model_spec.signature_name = SIGNATURE
        if version is not None:
            request.model_spec.version.value = version
        for alias, proto in inputs.items():
            request.inputs[alias].CopyFrom(proto)
        return request

    def send(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        try:
            return self.predictions.Predict(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise ClientError(exc.code().name, exc.details() or "") from None

    def predict(self, batch: np.ndarray) -> np.ndarray:
        array = np.ascontiguousarray(batch, dtype="<f4")
        reply = self.send(self.request({self.spec.input_name: tensor_proto(array)}))
        output = reply.outputs[self.spec.output_name]
        if output.tensor_content:
            values = np.frombuffer(output.tensor_content, dtype="<f4")
        else:
            values = np.asarray(output.float_val, dtype=np.float32)
        return self._logits(values.reshape(len(batch), -1), len(batch))

    def ready(self) -> bool:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = self.spec.name
        try:
            reply = self.models.GetModelStatus(request, timeout=self.timeout)
        except grpc.RpcError:
            return False
        available = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        states = [status.state for status in reply.model_version_status]
        return bool(states) and all(state == available for state in states)

    def close(self) -> None:
        self.channel.close()
