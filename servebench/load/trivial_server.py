"""A trivial endpoint for `servebench calibrate`: answers TorchServe's REST and gRPC predict
calls at once with ten zero floats, so a load test against it measures the load generator."""

from __future__ import annotations

import argparse
import asyncio
import sys
from concurrent import futures

import grpc

from servebench.generated import torchserve_inference_pb2 as inference

REPLY = bytes(40)  # ten float32 zeros: an mlp reply
PREDICTIONS = "/org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions"


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
            length = 0
            for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length :]
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: 40\r\n\r\n" + REPLY
            )


def _grpc_server(port: int) -> grpc.Server:
    reply = inference.PredictionResponse(prediction=REPLY).SerializeToString()
    handler = grpc.method_handlers_generic_handler(
        "org.pytorch.serve.grpc.inference.InferenceAPIsService",
        {"Predictions": grpc.unary_unary_rpc_method_handler(
            lambda request, context: reply,
            request_deserializer=lambda data: data,
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
    print(f"trivial endpoint: REST 127.0.0.1:{rest_port} gRPC 127.0.0.1:{grpc_port}", flush=True)
    async with http:
        await http.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="servebench-trivial-server")
    parser.add_argument("--rest-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.rest_port, args.grpc_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
