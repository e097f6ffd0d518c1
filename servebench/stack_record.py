"""stack.json, the record `servebench up` writes of a running stack, read by bench, Locust,
the clients and the probes. A light module: Locust workers read it."""

from __future__ import annotations

import json
from pathlib import Path

from servebench.target import Target


class Stack(dict):
    """The record as JSON gives it (so it is written back and compared unchanged), with typed
    access to what the harness looks up in it."""

    @classmethod
    def load(cls, path: Path | str) -> Stack:
        return cls(json.loads(Path(path).read_text()))

    @property
    def backends(self) -> dict[str, dict]:
        """Each server's record by name: implementation, endpoints, settings, process."""
        return self["backends"]

    @property
    def artifacts(self) -> Path:
        return Path(self["artifacts"])

    @property
    def prometheus_url(self) -> str | None:
        """Where the stack's Prometheus answers; None for a stack without one."""
        prometheus = self.get("monitoring", {}).get("prometheus")
        return prometheus["endpoints"]["http"] if prometheus else None

    def endpoint(self, target: Target | str) -> str:
        """The address of ``target``: a URL for REST, host:port for gRPC."""
        if isinstance(target, str):
            target = Target.parse(target)
        return self.backends[target.server]["endpoints"][target.protocol]
