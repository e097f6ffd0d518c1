"""TF Serving's REST predict API, columnar ("inputs") by default or row ("instances")."""

from __future__ import annotations

import json

import numpy as np

from servebench.clients.base import DEFAULT_TIMEOUT_S, Client, ClientError
from servebench.clients.rest import RestSession
from servebench.models import ModelSpec

COLUMNAR, ROW = "columnar", "row"


class TFServingRestClient(Client):
    target = "tfserving-rest"

    def __init__(
        self,
        endpoint: str,
        spec: ModelSpec,
        timeout: float = DEFAULT_TIMEOUT_S,
        form: str = COLUMNAR,
    ) -> None:
        super().__init__(endpoint, spec, timeout)
        self.form = form
        self.http = RestSession(timeout)

    def url(self, model: str | None = None, version: str | None = None) -> str:
        path = f"{self.endpoint}/v1/models/{model or self.spec.name}"
        return f"{path}/versions/{version}:predict" if version else f"{path}:predict"

    def send(
        self,
        body: bytes,
        content_type: str = "application/json",
        model: str | None = None,
        version: str | None = None,
    ) -> bytes:
        headers = {"Content-Type": content_type}
        return self.http.request(
            "POST", self.url(model, version), data=body, headers=headers
        ).content

    def encode(self, batch: np.ndarray) -> bytes:
        key = "inputs" if self.form == COLUMNAR else "instances"
        return json.dumps({"signature_name": "serving_default", key: batch.tolist()}).encode()

    def decode(self, reply: bytes, rows: int) -> np.ndarray:
        document = json.loads(reply)
        values = document.get("outputs" if self.form == COLUMNAR else "predictions")
        if values is None:
            raise ClientError("BAD_REPLY", f"no outputs in the reply: {reply[:200]!r}")
        return self._logits(values, rows)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.decode(self.send(self.encode(batch)), len(batch))

    def ready(self) -> bool:
        try:
            reply = self.http.request("GET", f"{self.endpoint}/v1/models/{self.spec.name}").json()
        except Exception:  # noqa: BLE001 (any failure means not ready)
            return False
        states = [status.get("state") for status in reply.get("model_version_status", [])]
        return bool(states) and all(state == "AVAILABLE" for state in states)

    def close(self) -> None:
        self.http.close()
