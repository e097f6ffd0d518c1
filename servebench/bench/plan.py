"""What `servebench bench` was asked to measure: one plan for the whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from servebench.models import ModelSpec


@dataclass
class BenchPlan:
    scenario: str
    models: list[ModelSpec]
    targets: list[str]
    warmup_s: float
    window_s: float  # each run's measured window, after its warm-up
    runs: int  # separate runs of each target (of each arm, in A/A), interleaved
    users: int
    loadgen_cpus: list[int]
    out: Path
    state_dir: Path
    rate: float = 0.0
    batch: int = 1
    workers: int = 0
    find_knee: bool = False
    slo_ms: float | None = None
    limits: bool = True
    limits_seconds: float = 5.0
    calibrate_s: float = 5.0  # measure the load generator's missing ceilings (0: never)
    options: dict = field(default_factory=dict)
    fault: str | None = None  # the fault scenario's kind: "worker" or "server"
    encoding: str = "native"  # REST bodies: each server's native best, or JSON on both
    aa: bool = False  # an A/A run: the one target measured as both arms of the comparison
    aa_hold_ms: float = 0.0  # the power check: arm B's requests held this long (a known gap)
