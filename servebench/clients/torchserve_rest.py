"""TorchServe's REST inference API: raw float32 bodies by default, JSON as an option."""

from __future__ import annotations

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

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if self.use_json:
            import json

            reply = self.send(json.dumps({"inputs": batch.tolist()}).encode(), JSON)
            return self._logits(json.loads(reply)["logits"], len(batch))
        reply = self.send(np.ascontiguousarray(batch, dtype="<f4").tobytes(), RAW)
        return self._logits(np.frombuffer(reply, dtype="<f4").reshape(len(batch), -1), len(batch))

    def ready(self) -> bool:
        try:
            return (
                self.http.request("GET", f"{self.endpoint}/ping").json().get("status") == "Healthy"
            )
        except Exception:  # noqa: BLE001 (any failure means not ready)
            return False

    def close(self) -> None:
        self.http.close()
