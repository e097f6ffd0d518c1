"""A trivial endpoint for `servebench calibrate`: answers TorchServe's REST and gRPC predict
calls at once with zero logits of the right size for the model asked (raw float32, or JSON to
a JSON request), so a load test against it measures the load generator. running() starts it
and describes it as a stack whose TorchServe it stands in for."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from servebench.backends.process import LOCALHOST, free_port, spawn, stop_session, wait_until
from servebench.generated import torchserve_inference_pb2 as inference
from servebench.models import MODELS, get_model

READY = "trivial endpoint"  # the first words it prints once both ports listen


def _replies(num_outputs: int) -> dict[bool, bytes]:
    """One row of zero logits: raw float32, and (True) as JSON."""
    as_json = json.dumps({"logits": [[0.0] * num_outputs]}).encode()
    return {False: bytes(4 * num_outputs), True: as_json}


REPLIES = {name: _replies(spec.num_outputs) for name, spec in MODELS.items()}


class _Http(asyncio.Protocol):
    """Just enough HTTP/1.1: keep-alive, Content-Length bodies, one fixed reply."""

    def connection_made(self, transport) -> None:
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length, is_json = 0, False
            request_line, *headers = self.buffer[:head_end].split(b"\r\n")
            for line in headers:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"content-type":
                    is_json = b"json" in value
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length :]
            model = request_line.split(b" ")[1].rsplit(b"/", 1)[-1].decode()
            reply = REPLIES.get(model, REPLIES["mlp"])[is_json]
            kind = b"application/json" if is_json else b"application/octet-stream"
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: " + kind
                + b"\r\nContent-Length: " + str(len(reply)).encode() + b"\r\n\r\n" + reply
            )  # fmt: skip


def _grpc_server(port: int) -> grpc.Server:
    replies = {
        name: inference.PredictionResponse(prediction=raw[False]).SerializeToString()
        for name, raw in REPLIES.items()
    }
    handler = grpc.method_handlers_generic_handler(
        "org.pytorch.serve.grpc.inference.InferenceAPIsService",
        {"Predictions": grpc.unary_unary_rpc_method_handler(
            lambda request, context: replies.get(request.model_name, replies["mlp"]),
            request_deserializer=inference.PredictionsRequest.FromString,
            response_serializer=lambda data: data,
        )},
    )  # fmt: skip
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    return server


async def _serve(rest_port: int, grpc_port: int) -> None:
    server = _grpc_server(grpc_port)
    server.start()
    http = await asyncio.get_running_loop().create_server(_Http, "127.0.0.1", rest_port)
    print(f"{READY}: REST 127.0.0.1:{rest_port} gRPC 127.0.0.1:{grpc_port}", flush=True)
    async with http:
        await http.serve_forever()


@dataclass(frozen=True)
class TrivialServer:
    pid: int
    rest_port: int
    grpc_port: int

    artifacts: Path | None = None  # where a user's models are described, for Locust

    def stack(self) -> dict:
        """A stack record in which this endpoint stands in for TorchServe, whose REST and gRPC
        predict APIs it speaks: Locust's TorchServe users aim at it unchanged."""
        endpoints = {
            "rest": f"http://{LOCALHOST}:{self.rest_port}",
            "grpc": f"{LOCALHOST}:{self.grpc_port}",
        }
        backend = {"implementation": READY, "real": True, "pid": self.pid, "endpoints": endpoints}
        record = {"backends": {"torchserve": backend}}
        return record | ({"artifacts": str(self.artifacts)} if self.artifacts else {})


@contextmanager
def running(
    folder: Path,
    cpus: list[int] | None = None,
    models: list[str] = (),
    artifacts: Path | None = None,
) -> Iterator[TrivialServer]:
    """The trivial endpoint on free ports, on ``cpus``, its log in ``folder``; stopped after.
    It answers the reference models, and ``models`` (a user's, described in ``artifacts``)."""
    rest_port, grpc_port = free_port(), free_port()
    command = [sys.executable, "-m", "servebench.backends.trivial_server"]
    command += ["--rest-port", str(rest_port), "--grpc-port", str(grpc_port)]
    for name in models:
        command += ["--model", name]
    if artifacts:
        command += ["--artifacts", str(artifacts.resolve())]  # it runs in ``folder``
    log = folder / "trivial.log"
    process = spawn(command, log, {}, cwd=folder, cpus=cpus)
    try:
        wait_until(lambda: READY in log.read_text(), 60, READY, process, log)
        yield TrivialServer(process.pid, rest_port, grpc_port, artifacts)
    finally:
        stop_session(process.pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="servebench-trivial-server")
    parser.add_argument("--rest-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--model", action="append", default=[], help="a user's model, too")
    parser.add_argument("--artifacts", type=Path, help="export's folder, describing --model")
    args = parser.parse_args(argv)
    for name in args.model:
        REPLIES[name] = _replies(get_model(name, args.artifacts).num_outputs)
    asyncio.run(_serve(args.rest_port, args.grpc_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
