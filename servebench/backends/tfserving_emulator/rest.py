"""TF Serving's REST API over the standard library's threaded HTTP server."""

from __future__ import annotations

import json
import re
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.protobuf import json_format

from servebench.backends.tfserving_emulator import IMPLEMENTATION
from servebench.backends.tfserving_emulator.inference import classify, regress
from servebench.backends.tfserving_emulator.json_api import (
    examples_from_json,
    json_from_tensors,
    parse_body,
    request_form,
    tensors_from_json,
)
from servebench.backends.tfserving_emulator.metrics import ServingMetrics
from servebench.backends.tfserving_emulator.servables import (
    ServableRegistry,
    ServingError,
    invalid,
)
from servebench.backends.tfserving_emulator.status import metadata_json, model_status_response

# The paths TF Serving's handler matches, case-insensitively, as it does.
PREDICT_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/(\d+))?:(classify|regress|predict)")
STATUS_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?(/metadata)?")
API_PATH = re.compile(r"(?i)/v1/.*")

# TF Serving's mapping from canonical status codes to HTTP (model_servers/http_server.cc).
HTTP_STATUS = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


class RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        registry: ServableRegistry,
        metrics: ServingMetrics,
        metrics_path: str | None,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__(address, RestHandler)
        self.registry = registry
        self.metrics = metrics
        self.metrics_path = metrics_path
        self.timeout_s = timeout_s  # --rest_api_timeout_in_ms: each run's deadline


class RestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients under load expect
    # Headers and body go out in two writes; with Nagle on, the second waits for the delayed
    # ACK of the first (about 40 ms per request).
    disable_nagle_algorithm = True
    server: RestServer

    def do_GET(self) -> None:  # noqa: N802 (the standard library's naming)
        if self.server.metrics_path and self.path == self.server.metrics_path:
            self._send(HTTPStatus.OK, self.server.metrics.render().encode(), "text/plain")
            return
        self._dispatch(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch(self._post)

    def _dispatch(self, route) -> None:
        """One API call, counted and timed as TF Serving's HTTP server does: every call by the
        model its path names, and its latency under the path's method (empty for a GET)."""
        if not API_PATH.fullmatch(self.path):
            self._send(HTTPStatus.NOT_FOUND, b"", "text/plain")
            return
        started, self.model_name, self.method = time.perf_counter(), "", ""
        code = grpc.StatusCode.OK
        try:
            body = _json(route())
        except ServingError as exc:
            code, body = exc.code, _json({"error": exc.message})
        self.server.metrics.observe(
            self.model_name, self.method, "REST", code.name, time.perf_counter() - started
        )
        self._send(HTTP_STATUS.get(code, HTTPStatus.OK), body)

    def _get(self) -> dict:
        match = STATUS_PATH.fullmatch(self.path)
        if not match:
            raise invalid(f"Malformed request: GET {self.path}")
        name, version, metadata = match.groups()
        self.model_name = name or ""
        if not name:
            raise invalid("Missing model name in request.")
        version = int(version) if version else None
        if metadata:
            return metadata_json(self.server.registry.get(name, version))
        servables = self.server.registry.status(name, version)
        return json_format.MessageToDict(
            model_status_response(servables),
            always_print_fields_with_no_presence=True,
            preserving_proto_field_name=True,
        )

    def _post(self) -> dict:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = PREDICT_PATH.fullmatch(self.path)
        if not match:
            raise invalid(f"Malformed request: POST {self.path}")
        name, version, method = match.groups()
        self.model_name, self.method = name, method
        version = int(version) if version else None
        # The path matches in any case, but TF Serving dispatches the lower-case methods only.
        if method == "predict":
            return self._predict(name, version, body)
        if method in ("classify", "regress"):
            return self._classify_or_regress(method, name, version, body)
        raise invalid(f"Malformed request: POST {self.path}")

    def _predict(self, name: str, version: int | None, body: bytes) -> dict:
        document = parse_body(body)
        form = request_form(document)
        servable = self.server.registry.get(name, version)
        signature = document.get("signature_name", "")
        inputs = tensors_from_json(document, servable.input_infos(signature))
        outputs = servable.predict(signature, inputs, [], self.server.timeout_s)
        return json_from_tensors(outputs, form)

    def _classify_or_regress(self, method: str, name: str, version: int | None, body: bytes):
        document = parse_body(body)
        proto = examples_from_json(document, method)
        servable = self.server.registry.get(name, version)
        signature = document.get("signature_name", "")
        if method == "classify":
            result = classify(servable, signature, proto, self.server.timeout_s)
            return {
                "results": [
                    [[c.label, c.score] for c in row.classes] for row in result.classifications
                ]
            }
        result = regress(servable, signature, proto, self.server.timeout_s)
        return {"results": [r.value for r in result.regressions]}

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", IMPLEMENTATION)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # one line per request would be the emulator's main cost under load


def _json(payload: dict) -> bytes:
    return json.dumps(payload).encode()
