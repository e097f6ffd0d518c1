"""A target: one server over one protocol, named "<server>-<protocol>" (torchserve-rest, ...)
in results, stack lookups, Locust and the metrics' labels."""

from __future__ import annotations

from dataclasses import dataclass

# Servers measured beside the compared two, never against them: the diy baseline (`up
# --with-diy`). The verdict, cold starts and the robustness count leave them out.
BASELINE_SERVERS = ("diy",)


@dataclass(frozen=True)
class Target:
    server: str  # "torchserve" or "tfserving": the key of its backend in stack.json
    protocol: str  # "rest" or "grpc": the key of its endpoint

    @classmethod
    def parse(cls, name: str) -> Target:
        server, protocol = name.split("-")
        return cls(server, protocol)

    def __str__(self) -> str:
        return f"{self.server}-{self.protocol}"
