"""servebench's Locust options (prefixed --sb-), shared by the locustfile and the scenarios."""

from __future__ import annotations

from pathlib import Path

DEFAULT_STACK = Path(".servebench") / "stack.json"
# The load's defaults, here once: Locust's --sb-* options and `servebench bench` both read them.
USERS = 4
WINDOW_S = 30.0
SOAK_S = 600.0
BATCH = 1
ENCODING = "native"
STEP_USERS = 2
STEP_SECONDS = 10.0
SPIKE_USERS = 16
# Scenarios judged on an event (a rollout, a fault, an overload), not on speed: each run is one
# event, which each run has once.
OPERATIONS = ("rollout", "fault", "overload")


def add_options(parser) -> None:
    group = parser.add_argument_group("servebench")
    group.add_argument(
        "--sb-stack", default=str(DEFAULT_STACK), help="stack.json of `servebench up`"
    )
    group.add_argument("--sb-model", default="mlp", help="model to load (resnet18 or mlp)")
    group.add_argument(
        "--sb-target",
        default="",
        help="comma-separated targets to run (default: all four, or those --tags selects)",
    )
    group.add_argument("--sb-batch", type=int, default=BATCH, help="rows per request")
    group.add_argument(
        "--sb-encoding",
        choices=["native", "json"],
        default=ENCODING,
        help="REST bodies: each server's native best (TorchServe raw), or JSON on both",
    )
    group.add_argument("--sb-users", type=int, default=USERS, help="concurrent users (closed loop)")
    group.add_argument(
        "--sb-duration", type=float, default=WINDOW_S, help="seconds the scenario runs"
    )
    group.add_argument(
        "--sb-rate", type=float, default=0.0, help="open-loop arrivals per second; 0: closed loop"
    )
    group.add_argument(
        "--sb-drain",
        type=float,
        default=2.0,
        help="open loop: seconds replies may take after the schedule ends; later ones: timeout",
    )
    group.add_argument(
        "--sb-max-outstanding",
        type=int,
        default=2000,
        help="open loop: requests in flight per user before new arrivals count as dropped",
    )
    group.add_argument("--sb-slo-ms", type=float, default=100.0, help="ramp: p99 latency SLO")
    group.add_argument("--sb-error-budget", type=float, default=0.01, help="ramp: failure ratio")
    group.add_argument(
        "--sb-step-users", type=int, default=STEP_USERS, help="ramp: users added per step"
    )
    group.add_argument(
        "--sb-step-seconds", type=float, default=STEP_SECONDS, help="ramp/spike: step length"
    )
    group.add_argument(
        "--sb-spike-users", type=int, default=SPIKE_USERS, help="spike: users at the peak"
    )
    group.add_argument(
        "--sb-warmup",
        type=float,
        default=0.0,
        help="ramp: seconds at the first step's load before the steps start, not judged",
    )
    group.add_argument(
        "--sb-rate-shape",
        default="",
        help="open loop: vary --sb-rate by a shape's phases (overload: 0.5x, 1.5x, 3x, 0.5x)",
    )
    group.add_argument(
        "--sb-expected",
        default="",
        help="rollout: an answer key (.npz) that tells which model version gave each reply",
    )
    group.add_argument(
        "--sb-hold-ms",
        type=float,
        default=0.0,
        help="power check: hold each request this long before sending, counted in its latency",
    )
    group.add_argument("--sb-request-log", default="", help="folder for the per-request CSV log")
    group.add_argument(
        "--sb-exporter-port",
        type=int,
        default=0,
        help="port of this process's metrics exporter (default 0: a free one)",
    )
    group.add_argument(
        "--sb-metrics-dir",
        default="",
        help="folder where Prometheus discovers this process's exporter (default: the stack's)",
    )
