"""TorchServe's gRPC inference API, through servebench's own wire-compatible stubs."""

from __future__ import annotations

import json

import grpc
import numpy as np
from google.protobuf import empty_pb2

from servebench.clients.base import DEFAULT_TIMEOUT_S, GRPC_MESSAGE_OPTIONS, Client, ClientError
from servebench.generated import torchserve_inference_pb2 as inference
from servebench.generated import torchserve_inference_pb2_grpc as inference_grpc
from servebench.models import ModelSpec

RAW_INPUT, JSON_INPUT = "data", "json"  # the input names services/torchserve/handler.py reads


class TorchServeGrpcClient(Client):
    target = "torchserve-grpc"

    def __init__(
        self, endpoint: str, spec: ModelSpec, timeout: float = DEFAULT_TIMEOUT_S, json: bool = False
    ) -> None:
        super().__init__(endpoint, spec, timeout)
        self.use_json = json
        self.channel = grpc.insecure_channel(endpoint, options=GRPC_MESSAGE_OPTIONS)
        self.stub = inference_grpc.InferenceAPIsServiceStub(self.channel)

    def request(
        self, inputs: dict[str, bytes], model: str | None = None, version: str = ""
    ) -> inference.PredictionsRequest:
        return inference.PredictionsRequest(
            model_name=model or self.spec.name, model_version=version, input=inputs
        )

    def send(self, request: inference.PredictionsRequest) -> bytes:
        try:
            return self.stub.Predictions(request, timeout=self.timeout).prediction
        except grpc.RpcError as exc:
            raise ClientError(exc.code().name, exc.details() or "") from None

    def encode(self, batch: np.ndarray) -> inference.PredictionsRequest:
        if self.use_json:
            return self.request({JSON_INPUT: json.dumps({"inputs": batch.tolist()}).encode()})
        return self.request({RAW_INPUT: np.ascontiguousarray(batch, dtype="<f4").tobytes()})

    def decode(self, reply: bytes, rows: int) -> np.ndarray:
        if self.use_json:
            return self._logits(json.loads(reply)["logits"], rows)
        return self._raw_logits(reply, rows)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.decode(self.send(self.encode(batch)), len(batch))

    def ready(self) -> bool:
        try:
            health = self.stub.Ping(empty_pb2.Empty(), timeout=self.timeout).health
        except grpc.RpcError:
            return False
        return "Healthy" in health

    def close(self) -> None:
        self.channel.close()
