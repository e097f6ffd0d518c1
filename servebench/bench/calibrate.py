"""The load generator's own ceiling, against a trivial local endpoint, per case.

A case is what changes Locust's cost per request: the server's API (each has its own user
class, encoding and decoding), the protocol, the model (its payload size), the wire family
(binary or JSON, which Locust decodes), and where Locust ran (its CPUs and worker count).
Locust drives that server's user class at a trivial server that answers at once with zero
logits of the right size, in that server's own reply format. The rate it reaches is the most
it can measure there; above half of it, bench says a result may describe Locust rather than
the server. The trivial server's own limit is included, so each figure is a lower bound of
Locust's ceiling.

`servebench calibrate` measures every case for its CPUs; `bench` measures the cases it is about
to use that calibration.json lacks.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from servebench.backends import trivial_server
from servebench.bench.locust_run import LocustJob, run_one_window
from servebench.bench.monitor import ProcessTreeStats, say
from servebench.bench.results import write_json
from servebench.clients import WIRE_FORMATS
from servebench.missing import figure
from servebench.models import MODELS
from servebench.target import Target

CALIBRATION_FILE = "calibration.json"
SETTLE_S = 2.0  # the first seconds of each calibration run are not counted
USERS = 32  # enough to keep Locust busy against an endpoint that answers at once


@dataclass(frozen=True)
class Case:
    protocol: str  # "rest" or "grpc"
    model: str
    wire: str  # "binary" or "json"
    loadgen_cpus: tuple[int, ...]
    workers: int
    server: str = "torchserve"  # whose user class (and so encoding) Locust runs

    @property
    def key(self) -> str:
        cpus = ",".join(map(str, self.loadgen_cpus))
        prefix = "" if self.server == "torchserve" else f"{self.server}:"  # older files' keys
        return (f"{prefix}{self.protocol}/{self.model}/{self.wire}/cpus={cpus}/"
                f"workers={self.workers}")  # fmt: skip

    @property
    def target(self) -> str:
        return str(Target(self.server, self.protocol))

    def describe(self) -> str:
        protocol = "gRPC" if self.protocol == "grpc" else "REST"
        return f"{SERVER_NAMES[self.server]} {protocol} {self.model} {self.wire}"


SERVER_NAMES = {"torchserve": "TorchServe", "tfserving": "TF Serving", "diy": "diy"}


def case_for(target: str, model: str, encoding: str, loadgen_cpus, workers: int) -> Case:
    """The calibration case that bounds what Locust can measure of ``target``: the diy
    baseline speaks TorchServe's raw REST, so its Locust costs what TorchServe's does."""
    wire = "json" if "JSON" in WIRE_FORMATS[target][encoding] else "binary"
    parsed = Target.parse(target)
    server = "tfserving" if parsed.server == "tfserving" else "torchserve"
    return Case(parsed.protocol, model, wire, tuple(loadgen_cpus), workers, server)


# Each server's wire families: TorchServe raw float32 or JSON over REST; TF Serving JSON over
# REST; both protobuf over gRPC.
FAMILIES = (("torchserve", "rest", "binary"), ("torchserve", "rest", "json"),
            ("torchserve", "grpc", "binary"), ("tfserving", "rest", "json"),
            ("tfserving", "grpc", "binary"))  # fmt: skip


def every_case(models: list[str], loadgen_cpus, workers: int) -> list[Case]:
    return [
        Case(protocol, model, wire, tuple(loadgen_cpus), workers, server)
        for model in models
        for server, protocol, wire in FAMILIES
    ]


def load(state_dir: Path) -> dict:
    """calibration.json's cases by key; a file from before cases existed counts as empty."""
    path = state_dir / CALIBRATION_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("cases", {})


def ceiling(calibration: dict, case: Case) -> float | None:
    return calibration.get(case.key, {}).get("ceiling_rps")


def calibrate(
    state_dir: Path,
    cases: list[Case],
    duration_s: float,
    server_cpus: list[int],
    prometheus: str | None,
    users: int = USERS,
    artifacts: Path | None = None,
) -> dict:
    """Measure ``cases``, add them to calibration.json (keeping the others); return all.
    A user's model among them is described in ``artifacts``."""
    known = load(state_dir)
    custom = sorted({case.model for case in cases} - set(MODELS))
    with (
        tempfile.TemporaryDirectory(prefix="servebench-calibrate-") as scratch,
        trivial_server.running(Path(scratch), server_cpus, custom, artifacts) as server,
    ):
        stack_file = Path(scratch) / "stack.json"
        stack_file.write_text(json.dumps(server.stack()))
        for index, case in enumerate(cases):
            figures, interrupted = _measure(
                case, stack_file, Path(scratch) / str(index), duration_s, users, server.pid,
                prometheus,
            )  # fmt: skip
            known[case.key] = {**figures, "server_cpus": server_cpus}
            _save(state_dir, known)
            if interrupted:
                raise KeyboardInterrupt
    return known


def _measure(case: Case, stack_file, folder: Path, duration_s, users, server_pid, prometheus):
    job = LocustJob(
        stack_file=stack_file, scenario="steady", model=case.model,
        target=case.target, duration_s=duration_s + SETTLE_S,
        users=users, workers=case.workers, loadgen_cpus=list(case.loadgen_cpus),
        options={"metrics_dir": str(folder / "loadgen"),
                 "encoding": "json" if case.wire == "json" else "native"},
    )  # fmt: skip
    label = f"calibrate {case.describe()}"
    stats = ProcessTreeStats(server_pid)
    # The trivial endpoint's Locust announces itself in its own folder, so Prometheus never
    # scrapes it: the live line reads the request log instead (prometheus=None).
    window, run = run_one_window(job, folder, stats, None, label, SETTLE_S, duration_s)
    figures = {
        "server": case.server,
        "protocol": case.protocol,
        "model": case.model,
        "wire": case.wire,
        "loadgen_cpus": list(case.loadgen_cpus),
        "workers": case.workers,
        "users": users,
        "duration_s": duration_s,
        "measured_at": time.time(),
        "ceiling_rps": window["achieved_rps"],
        "latency_ms_p50": window["latency_ms"]["p50"],
        "error_ratio": window["error_ratio"],
        "loadgen_cpu_percent_mean": _mean(run.samples, "loadgen_cpu_percent"),
    }
    say(f"{label}: ceiling {figure(figures['ceiling_rps'], '.0f')} req/s, p50 "
        f"{figure(figures['latency_ms_p50'], '.2f')} ms, Locust CPU "
        f"{figure(figures['loadgen_cpu_percent_mean'], '.0f')}%")  # fmt: skip
    return figures, run.interrupted


def _save(state_dir: Path, cases: dict) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    write_json(state_dir / CALIBRATION_FILE, {"schema_version": 2, "cases": cases})


def _mean(samples: list[dict], key: str) -> float | None:
    values = [s[key] for s in samples if key in s]
    return sum(values) / len(values) if values else None
