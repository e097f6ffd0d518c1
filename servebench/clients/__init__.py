"""Clients for the four compared endpoints and the diy baseline's, built from a running stack's
record."""

from __future__ import annotations

from importlib import import_module

from servebench.clients.base import Client, ClientError
from servebench.models import ModelSpec
from servebench.stack_record import Stack
from servebench.target import Target

# target -> "module:class", imported only when used (gRPC and HTTP libraries are heavy)
CLIENTS = {
    "torchserve-rest": "servebench.clients.torchserve_rest:TorchServeRestClient",
    "torchserve-grpc": "servebench.clients.torchserve_grpc:TorchServeGrpcClient",
    "tfserving-rest": "servebench.clients.tfserving_rest:TFServingRestClient",
    "tfserving-grpc": "servebench.clients.tfserving_grpc:TFServingGrpcClient",
    "diy-rest": "servebench.clients.diy_rest:DiyRestClient",
}
# The baselines (`up --with-diy`) sit beside the compared targets, never in the verdict, and
# only in a stack started with them.
BASELINE_TARGETS = ("diy-rest",)
TARGETS = tuple(target for target in CLIENTS if target not in BASELINE_TARGETS)
ALL_TARGETS = tuple(CLIENTS)
# --encoding: each server's native best on REST (TorchServe raw float32, TF Serving JSON), or
# JSON on both, like for like. gRPC carries raw float32 bytes either way.
ENCODINGS = ("native", "json")
WIRE_FORMATS = {
    "torchserve-rest": {"native": "raw float32", "json": "JSON"},
    "tfserving-rest": {"native": "JSON (columnar)", "json": "JSON (columnar)"},
    "torchserve-grpc": {"native": "protobuf, raw float32", "json": "protobuf, raw float32"},
    "tfserving-grpc": {"native": "TensorProto, raw float32", "json": "TensorProto, raw float32"},
    "diy-rest": {"native": "raw float32", "json": "JSON"},
}

__all__ = [
    "ALL_TARGETS",
    "BASELINE_TARGETS",
    "ENCODINGS",
    "TARGETS",
    "WIRE_FORMATS",
    "Client",
    "ClientError",
    "client_options",
    "make_client",
    "stack_targets",
]


def client_options(target: str, encoding: str) -> dict:
    """make_client's options for ``target`` under ``--encoding``."""
    json_rest = target in ("torchserve-rest", "diy-rest")
    return {"json": True} if json_rest and encoding == "json" else {}


def stack_targets(stack: dict) -> tuple[str, ...]:
    """The four compared targets, then each baseline the stack was started with."""
    backends = Stack(stack).backends
    return TARGETS + tuple(t for t in BASELINE_TARGETS if Target.parse(t).server in backends)


def make_client(target: str, stack: dict, spec: ModelSpec, **options) -> Client:
    """A client for ``target`` (server-protocol) of the stack recorded in stack.json."""
    endpoint = Stack(stack).endpoint(target)
    module, name = CLIENTS[target].split(":")
    return getattr(import_module(module), name)(endpoint, spec, **options)
