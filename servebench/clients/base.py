"""One client interface for the four endpoints: ``predict(batch) -> logits`` and ``ready()``."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from servebench.models import ModelSpec

DEFAULT_TIMEOUT_S = 30.0
# Above gRPC's 4 MiB default, so the servers' own limits are what a large request meets.
GRPC_MESSAGE_OPTIONS = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
]


class ClientError(Exception):
    """A request the server refused or could not answer, with its status and message."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status  # "HTTP 400", or a gRPC code name such as "INVALID_ARGUMENT"
        self.message = message


class Client(ABC):
    """A connection to one endpoint (server x protocol) for one model; connections are reused."""

    target: str  # e.g. "torchserve-rest"

    def __init__(self, endpoint: str, spec: ModelSpec, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.endpoint = endpoint
        self.spec = spec
        self.timeout = timeout

    @abstractmethod
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Logits for a float32 batch of the model's input shape; ClientError on refusal."""

    @abstractmethod
    def ready(self) -> bool:
        """True when the endpoint answers and the model can serve."""

    def close(self) -> None:  # noqa: B027 (optional for subclasses)
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @abstractmethod
    def encode(self, batch: np.ndarray):
        """The request for ``batch`` in this endpoint's wire form; built once per payload."""

    @abstractmethod
    def decode(self, reply, rows: int) -> np.ndarray:
        """Logits from a reply; ClientError when the reply is not ``rows`` x outputs."""

    def _raw_logits(self, reply: bytes, rows: int) -> np.ndarray:
        return self._flat_logits(np.frombuffer(reply, dtype="<f4"), rows)

    def _flat_logits(self, values: np.ndarray, rows: int) -> np.ndarray:
        if values.size != rows * self.spec.num_outputs:
            raise ClientError(
                "BAD_REPLY", f"{self.target} returned {values.size} values for {rows} rows"
            )
        return values.reshape(rows, self.spec.num_outputs)

    def _logits(self, values, rows: int) -> np.ndarray:
        logits = np.asarray(values, dtype=np.float32)
        if logits.shape != (rows, self.spec.num_outputs):
            raise ClientError(
                "BAD_REPLY",
                f"{self.target} returned shape {list(logits.shape)}, "
                f"expected [{rows}, {self.spec.num_outputs}]",
            )
        return logits
