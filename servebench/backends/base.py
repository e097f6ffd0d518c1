"""What every system under test provides, and the record of a running one."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from servebench.export.layout import ArtifactLayout
from servebench.models import ModelSpec


@dataclass
class RunningBackend:
    """A started backend as `.servebench/stack.json` records it."""

    name: str  # "torchserve" or "tfserving"
    implementation: str  # e.g. "torchserve 0.12.0" or "tfserving-emulator"
    real: bool  # False for the emulator: its numbers never produce a verdict
    pid: int
    endpoints: dict[str, str]  # rest, grpc, metrics, and management where there is one
    log: str
    ready_seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LaunchPlan:
    """What both backends are started with, so they get the same budget."""

    models: list[ModelSpec]
    layout: ArtifactLayout
    workdir: Path
    server_threads: int
    server_cpus: list[int]
    # Batching, the same for both servers: off when batch_size is 1.
    batch_size: int = 1
    batch_delay_ms: int = 0
    # Requests a server holds beyond those it is computing: TorchServe's job_queue_size per
    # model (then 503); TF Serving has a queue only when batching (max_enqueued_batches).
    queue_size: int = 100

    @property
    def batching(self) -> bool:
        return self.batch_size > 1


class Backend(Protocol):
    """A server that `up` starts: a local process or a container."""

    name: str
    starts_alone: bool  # True: started and made ready one at a time, so each ready time is its own

    def start(self) -> None: ...

    def wait_ready(self, timeout: float) -> RunningBackend: ...

    def stop(self) -> None: ...
