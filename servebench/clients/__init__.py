"""Clients for the four endpoints, built from a running stack's record."""

from __future__ import annotations

from importlib import import_module

from servebench.clients.base import Client, ClientError
from servebench.models import ModelSpec
from servebench.stack_record import Stack

# target -> "module:class", imported only when used (gRPC and HTTP libraries are heavy)
CLIENTS = {
    "torchserve-rest": "servebench.clients.torchserve_rest:TorchServeRestClient",
    "torchserve-grpc": "servebench.clients.torchserve_grpc:TorchServeGrpcClient",
    "tfserving-rest": "servebench.clients.tfserving_rest:TFServingRestClient",
    "tfserving-grpc": "servebench.clients.tfserving_grpc:TFServingGrpcClient",
}
TARGETS = tuple(CLIENTS)
# --encoding: each server's native best on REST (TorchServe raw float32, TF Serving JSON), or
# JSON on both, like for like. gRPC carries raw float32 bytes either way.
ENCODINGS = ("native", "json")
WIRE_FORMATS = {
    "torchserve-rest": {"native": "raw float32", "json": "JSON"},
    "tfserving-rest": {"native": "JSON (columnar)", "json": "JSON (columnar)"},
    "torchserve-grpc": {"native": "protobuf, raw float32", "json": "protobuf, raw float32"},
    "tfserving-grpc": {"native": "TensorProto, raw float32", "json": "TensorProto, raw float32"},
}

__all__ = [
    "ENCODINGS",
    "TARGETS",
    "WIRE_FORMATS",
    "Client",
    "ClientError",
    "client_options",
    "make_client",
]


def client_options(target: str, encoding: str) -> dict:
    """make_client's options for ``target`` under ``--encoding``."""
    return {"json": True} if target == "torchserve-rest" and encoding == "json" else {}


def make_client(target: str, stack: dict, spec: ModelSpec, **options) -> Client:
    """A client for ``target`` (server-protocol) of the stack recorded in stack.json."""
    endpoint = Stack(stack).endpoint(target)
    module, name = CLIENTS[target].split(":")
    return getattr(import_module(module), name)(endpoint, spec, **options)
