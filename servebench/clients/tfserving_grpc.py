"""TF Serving's gRPC PredictionService, with TensorProtos built straight from array bytes.

It uses servebench's wire-compatible messages (protos/servebench/generated/tfserving_wire.proto)
rather than tensorflow_serving.apis, which imports all of TensorFlow: the load generator runs
this client in every Locust process.
"""

from __future__ import annotations

import grpc
import numpy as np

from servebench.clients.base import DEFAULT_TIMEOUT_S, GRPC_MESSAGE_OPTIONS, Client, ClientError
from servebench.generated import tfserving_wire_pb2 as wire
from servebench.models import ModelSpec

SIGNATURE = "serving_default"
PREDICT = "/tensorflow.serving.PredictionService/Predict"
GET_MODEL_STATUS = "/tensorflow.serving.ModelService/GetModelStatus"


def tensor_proto(array: np.ndarray, dtype: int = wire.DT_FLOAT) -> wire.TensorProto:
    """A TensorProto whose tensor_content is the array's little-endian bytes, as-is."""
    shape = wire.TensorShapeProto(dim=[wire.TensorShapeProto.Dim(size=n) for n in array.shape])
    return wire.TensorProto(dtype=dtype, tensor_shape=shape, tensor_content=array.tobytes())


class TFServingGrpcClient(Client):
    target = "tfserving-grpc"

    def __init__(self, endpoint: str, spec: ModelSpec, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(endpoint, spec, timeout)
        self.channel = grpc.insecure_channel(endpoint, options=GRPC_MESSAGE_OPTIONS)
        self._predict = self.channel.unary_unary(
            PREDICT,
            request_serializer=wire.PredictRequest.SerializeToString,
            response_deserializer=wire.PredictResponse.FromString,
        )
        self._status = self.channel.unary_unary(
            GET_MODEL_STATUS,
            request_serializer=wire.GetModelStatusRequest.SerializeToString,
            response_deserializer=wire.GetModelStatusResponse.FromString,
        )

    def request(
        self,
        inputs: dict[str, wire.TensorProto],
        model: str | None = None,
        version: int | None = None,
    ) -> wire.PredictRequest:
        request = wire.PredictRequest()
        request.model_spec.name = model or self.spec.name
        request.model_spec.signature_name = SIGNATURE
        if version is not None:
            request.model_spec.version.value = version
        for alias, proto in inputs.items():
            request.inputs[alias].CopyFrom(proto)
        return request

    def encode(self, batch: np.ndarray) -> wire.PredictRequest:
        array = np.ascontiguousarray(batch, dtype="<f4")
        return self.request({self.spec.input_name: tensor_proto(array)})

    def send(self, request: wire.PredictRequest) -> wire.PredictResponse:
        try:
            return self._predict(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise ClientError(exc.code().name, exc.details() or "") from None

    def decode(self, reply: wire.PredictResponse, rows: int) -> np.ndarray:
        output = reply.outputs[self.spec.output_name]
        if output.tensor_content:
            values = np.frombuffer(output.tensor_content, dtype="<f4")
        else:
            values = np.asarray(output.float_val, dtype=np.float32)
        return self._flat_logits(values, rows)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.decode(self.send(self.encode(batch)), len(batch))

    def ready(self) -> bool:
        request = wire.GetModelStatusRequest()
        request.model_spec.name = self.spec.name
        try:
            reply = self._status(request, timeout=self.timeout)
        except grpc.RpcError:
            return False
        states = [status.state for status in reply.model_version_status]
        return bool(states) and all(s == wire.ModelVersionStatus.AVAILABLE for s in states)

    def close(self) -> None:
        self.channel.close()
