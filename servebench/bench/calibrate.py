"""`servebench calibrate`: the load generator's own ceiling, against a trivial local endpoint.

Locust drives the TorchServe REST and gRPC user classes (mlp payloads) at a server that answers
at once. The rate it reaches is the most it can measure here; above about half of it, bench
warns that a result may describe Locust rather than the server. The trivial server's own limit
is included, so the figure is a lower bound of Locust's ceiling.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from servebench.backends.process import free_port, spawn, stop_session, wait_until
from servebench.bench.analysis import RequestLog
from servebench.bench.locust_run import LocustJob, run_locust
from servebench.bench.monitor import ProcessTreeStats
from servebench.bench.results import write_json


def calibrate(
    state_dir: Path,
    duration_s: float,
    users: int,
    server_cpus: list[int],
    loadgen_cpus: list[int],
    workers: int,
    prometheus: str | None,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="servebench-calibrate-") as scratch:
        scratch = Path(scratch)
        ports = {"rest": free_port(), "grpc": free_port()}
        command = [sys.executable, "-m", "servebench.load.trivial_server"]
        command += ["--rest-port", str(ports["rest"]), "--grpc-port", str(ports["grpc"])]
        log = scratch / "trivial.log"
        server = spawn(command, log, {}, cwd=scratch, cpus=server_cpus)
        try:
            wait_until(
                lambda: "trivial endpoint" in log.read_text(), 60, "trivial endpoint", server, log
            )
            stack_file = scratch / "stack.json"
            stack_file.write_text(json.dumps(_pseudo_stack(ports, server.pid)))
            result = {
                "measured_at": time.time(),
                "duration_s": duration_s,
                "users": users,
                "workers": workers,
                "loadgen_cpus": loadgen_cpus,
                "server_cpus": server_cpus,
            }
            for protocol in ("rest", "grpc"):
                job = LocustJob(
                    stack_file=stack_file, scenario="steady", model="mlp",
                    target=f"torchserve-{protocol}", duration_s=duration_s + 2, users=users,
                    workers=workers, loadgen_cpus=loadgen_cpus,
                    options={"metrics_dir": str(scratch / "loadgen")},
                )  # fmt: skip
                run = run_locust(
                    job,
                    scratch / protocol,
                    ProcessTreeStats(server.pid),
                    prometheus,
                    f"calibrate {protocol}",
                )
                figures = RequestLog.read(scratch / protocol).window(
                    run.test_start + 2, run.test_start + 2 + duration_s
                )
                result[protocol] = {
                    "ceiling_rps": figures["achieved_rps"],
                    "latency_ms_p50": figures["latency_ms"]["p50"],
                    "error_ratio": figures["error_ratio"],
                    "loadgen_cpu_percent_mean": _mean(run.samples, "loadgen_cpu_percent"),
                }
                if run.interrupted:
                    raise KeyboardInterrupt
        finally:
            stop_session(server.pid)
    write_json(state_dir / "calibration.json", result)
    return result


def _pseudo_stack(ports: dict, pid: int) -> dict:
    endpoints = {"rest": f"http://127.0.0.1:{ports['rest']}", "grpc": f"127.0.0.1:{ports['grpc']}"}
    trivial = {
        "implementation": "trivial endpoint",
        "real": True,
        "pid": pid,
        "endpoints": endpoints,
    }
    return {"backends": {"torchserve": trivial}}


def _mean(samples: list[dict], key: str) -> float | None:
    values = [s[key] for s in samples if key in s]
    return sum(values) / len(values) if values else None
