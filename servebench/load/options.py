"""servebench's Locust options (prefixed --sb-), shared by the locustfile and the scenarios."""

from __future__ import annotations

from pathlib import Path

DEFAULT_STACK = Path(".servebench") / "stack.json"


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
    group.add_argument("--sb-batch", type=int, default=1, help="rows per request")
    group.add_argument(
        "--sb-encoding",
        choices=["native", "json"],
        default="native",
        help="REST bodies: each server's native best (TorchServe raw), or JSON on both",
    )
    group.add_argument("--sb-users", type=int, default=4, help="concurrent users (closed loop)")
    group.add_argument("--sb-duration", type=float, default=30.0, help="seconds the scenario runs")
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
    group.add_argument("--sb-step-users", type=int, default=2, help="ramp: users added per step")
    group.add_argument(
        "--sb-step-seconds", type=float, default=10.0, help="ramp/spike: step length"
    )
    group.add_argument("--sb-spike-users", type=int, default=16, help="spike: users at the peak")
    group.add_argument(
        "--sb-warmup",
        type=float,
        default=0.0,
        help="ramp: seconds at the first step's load before the steps start, not judged",
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
