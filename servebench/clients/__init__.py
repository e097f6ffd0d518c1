"""Clients for the four endpoints, built from a running stack's record."""

from __future__ import annotations

from servebench.clients.base import Client, ClientError
from servebench.models import ModelSpec

TARGETS = ("torchserve-rest", "torchserve-grpc", "tfserving-rest", "tfserving-grpc")

__all__ = ["TARGETS", "Client", "ClientError", "make_client"]


def make_client(target: str, stack: dict, spec: ModelSpec, **options) -> Client:
    """A client for ``target`` (server-protocol) of the stack recorded in stack.json."""
    server, protocol = target.split("-")
    endpoint = stack["backends"][server]["endpoints"][protocol]
    if target == "torchserve-rest":
        from servebench.clients.torchserve_rest import TorchServeRestClient as client_class
    elif target == "torchserve-grpc":
        from servebench.clients.torchserve_grpc import TorchServeGrpcClient as client_class
    elif target == "tfserving-rest":
        from servebench.clients.tfserving_rest import TFServingRestClient as client_class
    else:
        from servebench.clients.tfserving_grpc import TFServingGrpcClient as client_class
    return client_class(endpoint, spec, **options)
