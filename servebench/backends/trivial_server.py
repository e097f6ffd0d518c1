"""A trivial endpoint for `servebench calibrate`: answers TorchServe's and TF Serving's REST
and gRPC predict calls at once with zero logits of the right size for the model asked (raw
float32, or JSON to a JSON request; TF Serving's columnar JSON and PredictResponse), so a load
test against it measures the load generator, with each server's own user class. running()
starts it and describes it as a stack whose TorchServe and TF Serving it stands in for."""

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
from servebench.generated import tfserving_wire_pb2 as wire
from servebench.generated import torchserve_inference_pb2 as inference
from servebench.models import MODELS, get_model

READY = "trivial endpoint"  # the first words it prints once both ports listen


def _replies(num_outputs: int) -> dict:
    """One row of zero logits: raw float32, as JSON (True), and as TF Serving's columnar JSON."""
    as_json = json.dumps({"logits": [[0.0] * num_outputs]}).encode()
    columnar = json.dumps({"outputs": [[0.0] * num_outputs]}).encode()
    return {False: bytes(4 * num_outputs), True: as_json, TF_REST: columnar}


TF_REST = "tfserving"  # the reply to a TF Serving REST predict (/v1/models/<m>:predict)


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
            path = request_line.split(b" ")[1]
            model = path.rsplit(b"/", 1)[-1].split(b":")[0].decode()
            replies = REPLIES.get(model, REPLIES["mlp"])
            reply = replies[TF_REST] if path.endswith(b":predict") else replies[is_json]
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
    server.add_generic_rpc_handlers((handler, _tf_predict_handler()))
    server.add_insecure_port(f"127.0.0.1:{port}")
    return server


def _tf_predict_handler() -> grpc.GenericRpcHandler:
    """TF Serving's PredictionService.Predict: a PredictResponse of zero logits, each model's
    under its output name."""
    replies = {}
    for name, raw in REPLIES.items():
        spec = get_model(name, ARTIFACTS.get("path"))
        shape = wire.TensorShapeProto(dim=[wire.TensorShapeProto.Dim(size=n)
                                           for n in (1, spec.num_outputs)])  # fmt: skip
        tensor = wire.TensorProto(dtype=wire.DT_FLOAT, tensor_shape=shape,
                                  tensor_content=raw[False])  # fmt: skip
        reply = wire.PredictResponse()
        reply.outputs[spec.output_name].CopyFrom(tensor)
        replies[name] = reply.SerializeToString()
    return grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {"Predict": grpc.unary_unary_rpc_method_handler(
            lambda request, context: replies.get(request.model_spec.name, replies["mlp"]),
            request_deserializer=wire.PredictRequest.FromString,
            response_serializer=lambda data: data,
        )},
    )  # fmt: skip


ARTIFACTS: dict[str, Path | None] = {}  # where a user's models are described (--artifacts)


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
        """A stack record in which this endpoint stands in for TorchServe and TF Serving, whose
        REST and gRPC predict APIs it speaks: Locust's users of both aim at it unchanged."""
        endpoints = {
            "rest": f"http://{LOCALHOST}:{self.rest_port}",
            "grpc": f"{LOCALHOST}:{self.grpc_port}",
        }
        backend = {"implementation": READY, "real": True, "pid": self.pid, "endpoints": endpoints}
        record = {"backends": {"torchserve": backend, "tfserving": {**backend}}}
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
    ARTIFACTS["path"] = args.artifacts
    for name in args.model:
        REPLIES[name] = _replies(get_model(name, args.artifacts).num_outputs)
    asyncio.run(_serve(args.rest_port, args.grpc_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
