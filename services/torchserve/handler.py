"""TorchServe handler for servebench's reference models.

It loads an eager PyTorch model from the archive's own definition file plus a plain state_dict
(see servebench/export/torchserve.py for why), and accepts two encodings per request:
raw little-endian float32 bytes (Content-Type application/octet-stream, or gRPC's ``data``
input) and JSON (Content-Type application/json, or gRPC's ``json`` input). The reply uses the
request's encoding. Bad input raises PredictionException(..., 400), which TorchServe returns as
HTTP 400 or gRPC INVALID_ARGUMENT with the message.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import torch
from ts.torch_handler.base_handler import BaseHandler
from ts.utils.util import PredictionException

CONFIG_FILE = "servebench_model.json"
DEFINITIONS_FILE = "torch_defs.py"
THREADS_ENV = "SERVEBENCH_TORCH_THREADS"
RAW = "application/octet-stream"
JSON = "application/json"


class ServebenchHandler(BaseHandler):
    def initialize(self, context) -> None:
        model_dir = Path(context.system_properties["model_dir"])
        self.config = json.loads((model_dir / CONFIG_FILE).read_text())
        self.input_shape = tuple(self.config["input_shape"])
        self.input_size = int(np.prod(self.input_shape))
        self.max_batch = int(self.config["max_batch"])
        threads = os.environ.get(THREADS_ENV)
        if threads:
            torch.set_num_threads(int(threads))
        # A user's model (export --model-file) names its own file and class.
        definitions = _import_file(model_dir / self.config.get("definitions", DEFINITIONS_FILE))
        if "class" in self.config:
            self.model = getattr(definitions, self.config["class"])()
        else:
            self.model = definitions.build(self.config["model"])
        serialized = context.manifest["model"]["serializedFile"]
        state = torch.load(model_dir / serialized, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state)
        self.model.eval()
        self.context = context
        self.initialized = True

    def preprocess(self, requests: list[dict]) -> torch.Tensor:
        arrays, self._encodings, self._counts = [], [], []
        for index, request in enumerate(requests):
            encoding, array = self.decode(request, self._param_content_types(index, request))
            arrays.append(array)
            self._encodings.append(encoding)
            self._counts.append(array.shape[0])
        return torch.from_numpy(np.concatenate(arrays))

    def inference(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(batch)

    def postprocess(self, outputs: torch.Tensor) -> list:
        replies, start = [], 0
        logits = outputs.numpy().astype("<f4", copy=False)
        for index, (encoding, count) in enumerate(zip(self._encodings, self._counts)):
            part = logits[start : start + count]
            start += count
            self.context.set_response_content_type(index, encoding)
            if encoding == RAW:
                replies.append(part.tobytes())
            else:
                replies.append(json.dumps({"logits": part.tolist()}))
        return replies

    def decode(self, request: dict, content_types: dict[str, str]) -> tuple[str, np.ndarray]:
        """(reply encoding, validated float32 batch) for one request's inputs."""
        name, value = _single_input(request)
        content_type = content_types.get(name, "")
        if value is None or isinstance(value, (list, dict, int, float)):
            return JSON, self._validate(self._from_json(value))
        if isinstance(value, str):
            value = value.encode()
        if not value:
            raise self._error("the request body is empty")
        if content_type and RAW not in content_type and JSON not in content_type:
            raise self._error(f"unsupported Content-Type {content_type}; send {RAW} or {JSON}")
        if JSON in content_type or name == "json":
            return JSON, self._validate(self._from_json(self._parse_json(value)))
        return RAW, self._validate(self._from_raw(bytes(value)))

    def _from_raw(self, body: bytes) -> np.ndarray:
        sample_bytes = 4 * self.input_size
        if len(body) % sample_bytes:
            raise self._error(
                f"the body has {len(body)} bytes, not a multiple of {sample_bytes} "
                f"({self.input_size} float32 values per sample); send raw little-endian float32 "
                f"as {RAW}, or JSON as {JSON}"
            )
        return np.frombuffer(body, dtype="<f4").reshape(-1, *self.input_shape)

    def _parse_json(self, body: bytes):
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._error(f"malformed JSON ({exc})") from None

    def _from_json(self, document) -> np.ndarray:
        if isinstance(document, dict):
            keys = [k for k in ("inputs", "instances", "data") if k in document]
            if not keys:
                raise self._error('a JSON object must hold the batch under "inputs"')
            document = document[keys[0]]
        try:
            array = np.asarray(document)
        except ValueError:
            raise self._error("the JSON array is ragged (rows of different lengths)") from None
        if array.dtype.kind not in "iuf" or array.size == 0:
            raise self._error("the JSON input must be a non-empty nested array of numbers")
        array = array.astype(np.float32)
        if array.shape == self.input_shape:
            array = array[np.newaxis]
        if array.shape[1:] != self.input_shape:
            raise self._error(f"the JSON input has shape {list(array.shape)}")
        return array

    def _validate(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] > self.max_batch:
            raise self._error(f"batch of {batch.shape[0]} is above the maximum of {self.max_batch}")
        if not np.isfinite(batch).all():
            raise self._error("the input contains NaN or Infinity; only finite values are accepted")
        return batch

    def _error(self, problem: str) -> PredictionException:
        expected = ",".join(str(dim) for dim in self.input_shape)
        return PredictionException(
            f"{problem}; expected float32 of shape [N,{expected}] with 1 <= N <= {self.max_batch}",
            400,
        )

    def _param_content_types(self, index: int, request: dict) -> dict[str, str]:
        types = {}
        for name in request:
            header = self.context.get_request_header(index, name)
            if isinstance(header, dict):
                types[name] = str(header.get("content-type") or "").lower()
        return types


def _single_input(request: dict) -> tuple[str, object]:
    for name in ("data", "body", "json"):
        if name in request:
            return name, request[name]
    if len(request) == 1:
        return next(iter(request.items()))
    raise PredictionException(
        f"expected one input named data, body or json; got {sorted(request)}", 400
    )


def _import_file(path: Path):
    spec = importlib.util.spec_from_file_location("servebench_torch_defs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
