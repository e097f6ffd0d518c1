"""The do-it-yourself baseline: "just wrap it in a web app". A Starlette app served by uvicorn
runs the exported ONNX model with ONNX Runtime, over REST only, with the same checks the
other servers make (shape, finite values, maximum batch) and Prometheus metrics.

    POST /predictions/<model>   raw little-endian float32 (application/octet-stream), or JSON
                                {"inputs": [[...], ...]} (application/json); the reply comes in
                                the request's encoding: raw float32 logits, or {"logits": ...}
    GET  /ping                  {"status": "Healthy", "models": [...], "implementation": ...}
    GET  /metrics               request count and latency histogram (prometheus-client)

Its wire format is TorchServe's REST one, so a client written for one reads the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from servebench.backends.diy import implementation
from servebench.export.layout import ArtifactLayout
from servebench.export.onnx_model import onnx_session
from servebench.models import ModelSpec, get_model

RAW, JSON = "application/octet-stream", "application/json"
MAX_REQUEST_BYTES = 6_553_500  # TorchServe's max_request_size: the same limit on every server
READY = "diy server ready"  # printed once the port listens

REQUESTS = Counter("diy_requests_total", "Predict requests answered", ["model", "status"])
LATENCY = Histogram(
    "diy_request_latency_seconds",
    "Predict request latency, from the request's arrival to its reply",
    ["model"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)


class BadInput(Exception):
    """A request this server refuses, with the HTTP status and what was wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ServedModel:
    """One model's ONNX Runtime session and its input checks."""

    def __init__(self, spec: ModelSpec, layout: ArtifactLayout, threads: int) -> None:
        self.spec = spec
        self.session = onnx_session(layout.onnx(spec.name), threads)
        self.max_batch = json.loads(layout.manifest(spec.name).read_text())["max_batch"]

    def error(self, problem: str) -> BadInput:
        shape = ",".join(str(dim) for dim in self.spec.input_shape)
        expected = f"expected float32 of shape [N,{shape}] with 1 <= N <= {self.max_batch}"
        return BadInput(400, f"{problem}; {expected}")

    def decode(self, body: bytes, content_type: str) -> np.ndarray:
        if not body:
            raise self.error("the request body is empty")
        if JSON in content_type:
            return self.validate(self.from_json(body))
        if RAW in content_type:
            return self.validate(self.from_raw(body))
        raise self.error(
            f"unsupported Content-Type {content_type or '(none)'}; send {RAW} or {JSON}"
        )

    def from_raw(self, body: bytes) -> np.ndarray:
        sample_bytes = 4 * self.spec.input_size
        if len(body) % sample_bytes:
            raise self.error(
                f"the body has {len(body)} bytes, not a multiple of {sample_bytes} "
                f"({self.spec.input_size} float32 values per sample)"
            )
        return np.frombuffer(body, dtype="<f4").reshape(-1, *self.spec.input_shape)

    def from_json(self, body: bytes) -> np.ndarray:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.error(f"malformed JSON ({exc})") from None
        if not isinstance(document, dict) or "inputs" not in document:
            raise self.error('a JSON body must be an object holding the batch under "inputs"')
        try:
            array = np.asarray(document["inputs"])
        except ValueError:
            raise self.error("the JSON array is ragged (rows of different lengths)") from None
        if array.dtype.kind not in "iuf" or array.size == 0:
            raise self.error("the JSON input must be a non-empty nested array of numbers")
        if array.shape[1:] != self.spec.input_shape:
            raise self.error(f"the JSON input has shape {list(array.shape)}")
        return array.astype(np.float32)

    def validate(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] > self.max_batch:
            raise self.error(f"batch of {batch.shape[0]} is above the maximum of {self.max_batch}")
        if not np.isfinite(batch).all():
            raise self.error("the input contains NaN or Infinity; only finite values are accepted")
        return batch

    def run(self, batch: np.ndarray) -> np.ndarray:
        feeds = {self.spec.input_name: batch}
        return self.session.run([self.spec.output_name], feeds)[0].astype("<f4", copy=False)


def build_app(models: dict[str, ServedModel]) -> Starlette:
    # One inference at a time on its own thread: the event loop keeps reading and answering
    # other requests meanwhile, and ONNX Runtime's intra-op threads are the whole CPU budget,
    # as one TorchServe worker's torch threads are.
    compute = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onnxruntime")

    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        name = request.path_params["model"]
        try:
            reply = await _answer(request, models, name, compute)
        except BadInput as exc:
            reply = JSONResponse({"code": exc.status, "message": str(exc)}, exc.status)
        known = name if name in models else "unknown"  # keeps the label set bounded
        REQUESTS.labels(known, str(reply.status_code)).inc()
        if reply.status_code == 200:
            LATENCY.labels(known).observe(time.perf_counter() - started)
        return reply

    async def ping(_: Request) -> Response:
        # What it is, said by itself: Compose and k8s records leave it to the harness to ask.
        answer = {"status": "Healthy", "models": sorted(models), "implementation": implementation()}
        return JSONResponse(answer)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/predictions/{model}", predict, methods=["POST"]),
            Route("/predictions/{model}/{version}", predict, methods=["POST"]),
            Route("/ping", ping),
            Route("/metrics", metrics),
        ]
    )


async def _answer(request: Request, models: dict, name: str, compute) -> Response:
    if name not in models:
        raise BadInput(404, f"unknown model {name!r}; this server serves {sorted(models)}")
    if "version" in request.path_params:
        raise BadInput(404, f"unknown version {request.path_params['version']!r}; one per model")
    length = int(request.headers.get("content-length") or 0)
    if length > MAX_REQUEST_BYTES:
        raise BadInput(413, f"the body has {length} bytes, above {MAX_REQUEST_BYTES}")
    content_type = request.headers.get("content-type", "").lower()
    model = models[name]
    batch = model.decode(await request.body(), content_type)
    logits = await asyncio.get_running_loop().run_in_executor(compute, model.run, batch)
    if JSON in content_type:
        return JSONResponse({"logits": logits.tolist()})
    return Response(logits.tobytes(), media_type=RAW)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="servebench-diy-server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument(
        "--model", action="append", required=True, help="repeat it, or a comma-separated list"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    layout = ArtifactLayout(args.artifacts)
    # Loaded before the port opens: whatever answers /ping can serve.
    names = [name for option in args.model for name in option.split(",") if name]
    models = {
        name: ServedModel(get_model(name, layout.root), layout, args.threads) for name in names
    }
    config = uvicorn.Config(
        build_app(models), host=args.host, port=args.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    print(f"{READY}: http://{args.host}:{args.port} models {sorted(models)}", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
