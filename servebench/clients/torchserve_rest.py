"""TorchServe's REST inference API: raw float32 bodies by default, JSON as an option."""

from __future__ import annotations

import json

import numpy as np

from servebench.clients.base import DEFAULT_TIMEOUT_S, Client
from servebench.clients.rest import RestSession
from servebench.models import ModelSpec

RAW = "application/octet-stream"
JSON = "application/json"


class TorchServeRestClient(Client):
    target = "torchserve-rest"

    def __init__(
        self, endpoint: str, spec: ModelSpec, timeout: float = DEFAULT_TIMEOUT_S, json: bool = False
    ) -> None:
        super().__init__(endpoint, spec, timeout)
        self.use_json = json
        self.http = RestSession(timeout)

    def url(self, model: str | None = None, version: str | None = None) -> str:
        path = f"{self.endpoint}/predictions/{model or self.spec.name}"
        return f"{path}/{version}" if version else path

    def send(
        self, body: bytes, content_type: str, model: str | None = None, version: str | None = None
    ) -> bytes:
        """POST a prepared body; the probe uses this to send what predict() never would."""
        reply = self.http.request(
            "POST", self.url(model, version), data=body, headers={"Content-Type": content_type}
        )
        return reply.content

    @property
    def content_type(self) -> str:
        return JSON if self.use_json else RAW

    def encode(self, batch: np.ndarray) -> bytes:
        if self.use_json:
            return json.dumps({"inputs": batch.tolist()}).encode()
        return np.ascontiguousarray(batch, dtype="<f4").tobytes()

    def decode(self, reply: bytes, rows: int) -> np.ndarray:
        if self.use_json:
            return self._logits(json.loads(reply)["logits"], rows)
        return self._raw_logits(reply, rows)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.decode(self.send(self.encode(batch), self.content_type), len(batch))

    def ready(self) -> bool:
        try:
            return (
                self.http.request("GET", f"{self.endpoint}/ping").json().get("status") == "Healthy"
            )
        except Exception:  # noqa: BLE001 (any failure means not ready)
            return False

    def close(self) -> None:
        self.http.close()
