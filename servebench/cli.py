"""The `servebench` command line: one subcommand per step of the pipeline."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from servebench.clients import TARGETS
from servebench.errors import CheckFailed, UsageError
from servebench.models import DEFAULT_MAX_BATCH, DEFAULT_SEED, MODELS

MODEL_CHOICES = [*MODELS, "all"]


class _Formatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = action.option_strings and default is not None and default is not False
        if shown and default != argparse.SUPPRESS and "default" not in text:
            if isinstance(default, float) and default.is_integer():
                default = int(default)
            text += f" (default: {default})"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line that names the fix (exit 2)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="servebench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"servebench {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    export = commands.add_parser("export", help="build the TorchServe .mar and TF SavedModel")
    _model_option(export, default="resnet18")
    export.add_argument("--weights", type=Path, help="a PyTorch state_dict for the same topology")
    export.add_argument("--out", type=Path, default=Path("artifacts"), help="artifact folder")
    export.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="seed of the generated weights, when no --weights",
    )
    export.add_argument(
        "--max-batch",
        type=_positive_int,
        default=DEFAULT_MAX_BATCH,
        help="largest batch one request may carry (both servers reject more)",
    )
    export.set_defaults(run=run_export)

    parity = commands.add_parser("parity", help="same inputs through torch and TF, in-process")
    _model_option(parity, default="resnet18")
    parity.add_argument(
        "--artifacts",
        type=Path,
        default=Path("artifacts"),
        help="folder written by `servebench export`",
    )
    parity.add_argument(
        "--endpoints",
        action="store_true",
        help="through all four endpoints of the running stack instead of in-process",
    )
    _state_option(parity)
    parity.set_defaults(run=run_parity)

    up = commands.add_parser(
        "up", help="start TorchServe, TF Serving and Prometheus: local processes or containers"
    )
    up.add_argument(
        "--mode",
        choices=["local", "docker"],
        default="local",
        help="local processes (default) or the servers' containers through the Docker SDK",
    )
    _model_option(up, default="all")
    up.add_argument("--artifacts", type=Path, default=Path("artifacts"), help="export's folder")
    up.add_argument(
        "--server-cpus",
        help="CPUs both servers run on, e.g. 0 or 0-1 (default: the first half of the CPUs; "
        "the rest is left to the load generator)",
    )
    up.add_argument(
        "--server-threads",
        type=_positive_int,
        help="CPU threads each server may use (default: one per server CPU)",
    )
    up.add_argument(
        "--batch-size",
        type=_positive_int,
        default=1,
        help="server-side batching for both servers: the largest batch (default: 1, off)",
    )
    up.add_argument(
        "--batch-delay-ms",
        type=int,
        default=5,
        help="how long both servers wait to fill a batch (with --batch-size > 1)",
    )
    up.add_argument(
        "--tfserving-bin",
        type=Path,
        help="a tensorflow_model_server binary (default: one on PATH, else the emulator)",
    )
    _state_option(up)
    up.set_defaults(run=run_up)

    cold = commands.add_parser(
        "cold-start", help="start each server alone, repeatedly, and time it to ready"
    )
    _model_option(cold, default="all")
    cold.add_argument("--artifacts", type=Path, default=Path("artifacts"), help="export's folder")
    cold.add_argument(
        "--repeat", type=_positive_int, default=3, help="starts per server (default: 3, the least "
        "that can name a winner)",
    )  # fmt: skip
    cold.add_argument("--server-cpus", help="CPUs each server runs on (default: as `up`)")
    cold.add_argument(
        "--server-threads", type=_positive_int, help="threads per server (default: as `up`)"
    )
    cold.add_argument("--tfserving-bin", type=Path, help="as for `up`")
    _state_option(cold)
    cold.set_defaults(run=run_cold_start)

    probe = commands.add_parser(
        "probe-bad-inputs", help="send bad inputs to all four endpoints; show who answers how"
    )
    probe.add_argument("--model", choices=list(MODELS), help="default: every model served")
    probe.add_argument("--out", type=Path, help="JSON results (default: STATE_DIR/bad-inputs.json)")
    _state_option(probe)
    probe.set_defaults(run=run_probe)

    bench = commands.add_parser("bench", help="load each target in turn; write results/<run-id>/")
    bench.add_argument("--scenario", default="steady", help="a file in loadtest/scenarios/: "
                       "steady, ramp, spike, soak, poisson or fault")  # fmt: skip
    bench.add_argument("--model", choices=MODEL_CHOICES, help="default: every model served")
    bench.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help=f"comma-separated, any of: {', '.join(TARGETS)} (default: all)",
    )
    bench.add_argument("--duration", type=_seconds, help="one measurement window (default: 30s; "
                       "soak 10m)")  # fmt: skip
    bench.add_argument(
        "--warmup", type=_seconds, default=5.0, help="load first, then discarded (default: 5s)"
    )
    bench.add_argument(
        "--repeat", type=_positive_int, default=3, help="measurement windows, back to back"
    )
    bench.add_argument("--users", type=_positive_int, default=4, help="concurrent users")
    bench.add_argument("--rate", type=float, default=0.0,
                       help="poisson: arrivals per second (needed unless --find-knee)")  # fmt: skip
    bench.add_argument("--batch", type=_positive_int, default=1, help="rows per request")
    bench.add_argument(
        "--workers", type=int, default=0,
        help="Locust worker processes under one master (default: 0, a single process)",
    )  # fmt: skip
    bench.add_argument("--loadgen-cpus", help="CPUs for Locust (default: those not the servers')")
    bench.add_argument("--server-cpus", help="CPUs both servers run on, as for `up`: the running "
                       "local servers move there (default: where `up` put them)")  # fmt: skip
    bench.add_argument("--find-knee", action="store_true",
                       help="search the highest Poisson rate whose p99 meets --slo-ms")  # fmt: skip
    bench.add_argument("--slo-ms", type=float, help="p99 objective (default: 100 resnet18, 10 mlp)")
    bench.add_argument(
        "--step-seconds", type=_seconds, help="ramp/spike: step length (default: 10s)"
    )
    bench.add_argument(
        "--step-users", type=_positive_int, help="ramp: users added per step (default: 2)"
    )
    bench.add_argument(
        "--spike-users", type=_positive_int, help="spike: users at the peak (default: 16)"
    )
    bench.add_argument(
        "--encoding",
        choices=["native", "json"],
        default="native",
        help="REST bodies: each server's native best (TorchServe raw float32), or JSON on both",
    )
    bench.add_argument(
        "--fault",
        choices=["worker", "server"],
        default="worker",
        help="fault: kill TorchServe's worker, or the whole server in its container",
    )
    bench.add_argument(
        "--aa",
        action="store_true",
        help="A/A run: the one target of --targets as both arms; the verdict must name no winner",
    )
    bench.add_argument(
        "--calibrate-seconds",
        type=_seconds_or_off,
        default=5.0,
        help="measure the load generator's ceiling first where calibration.json lacks this "
        "run's protocols, payloads, encodings or CPUs (default: 5s per case; 0: never, and no "
        "verdict without it)",
    )
    bench.add_argument("--no-limits", action="store_true", help="skip the in-process limits")
    bench.add_argument(
        "--limits-seconds",
        type=_seconds,
        default=5.0,
        help="in-process measurement per framework (default: 5s)",
    )
    bench.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    _state_option(bench)
    bench.set_defaults(run=run_bench)

    calibrate = commands.add_parser("calibrate", help="measure the load generator's own ceiling")
    calibrate.add_argument(
        "--duration", type=_seconds, default=10.0, help="per case (default: 10s)"
    )
    calibrate.add_argument("--users", type=_positive_int, default=32, help="concurrent users")
    calibrate.add_argument("--model", choices=MODEL_CHOICES, help="default: every model")
    calibrate.add_argument(
        "--workers", type=int, default=0, help="Locust worker processes (default: 0, one process)"
    )
    calibrate.add_argument(
        "--loadgen-cpus", help="CPUs for Locust (default: those `up` leaves to the load generator)"
    )
    calibrate.add_argument(
        "--server-cpus",
        help="CPUs the trivial endpoint runs on (default: the servers' CPUs, as for `up`)",
    )
    _state_option(calibrate)
    calibrate.set_defaults(run=run_calibrate)

    report = commands.add_parser("report", help="results/<run-id>/ -> report.html and report.md")
    report.add_argument(
        "run_dir", type=Path, nargs="?", help="a bench run folder (default: newest)"
    )
    report.add_argument(
        "--format", default="html,md", help="html, md, or html,md (also written both)"
    )
    report.add_argument("--results", type=Path, default=Path("results"), help="where runs live")
    report.set_defaults(run=run_report)

    validate = commands.add_parser("validate", help="offline checks of compose, k8s, Dockerfiles")
    validate.add_argument("--root", type=Path, help="a servebench checkout (default: this one)")
    validate.set_defaults(run=run_validate)

    down = commands.add_parser("down", help="stop everything `up` started")
    _state_option(down)
    down.set_defaults(run=run_down)

    demo = commands.add_parser(
        "demo", help="the main job end to end: export, up, parity, probe, bench, report, down"
    )
    demo.add_argument("--out", type=Path, default=Path("artifacts"), help="artifact folder")
    _state_option(demo)
    demo.set_defaults(run=run_demo)
    return parser


def _model_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default=default,
        help=f"reference model (default: {default})",
    )


def _state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".servebench"),
        help="where the running stack is recorded (default: .servebench)",
    )


def _seconds(text: str) -> float:
    """30, 30s, 2m or 1h -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30s, 2m or 1h") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than zero")
    return value


def _seconds_or_off(text: str) -> float:
    """A duration, or 0 for "never"."""
    return 0.0 if text.strip() in ("0", "0s") else _seconds(text)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("servebench")
    except metadata.PackageNotFoundError:
        return "(not installed: run `make install`)"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def run_export(args: argparse.Namespace) -> int:
    from servebench.commands import export_command

    return export_command(args.model, args.out, args.weights, args.seed, args.max_batch)


def run_parity(args: argparse.Namespace) -> int:
    from servebench.commands import endpoint_parity_command, parity_command

    if args.endpoints:
        return endpoint_parity_command(args.state_dir)
    return parity_command(args.model, args.artifacts)


def run_up(args: argparse.Namespace) -> int:
    from servebench.commands import up_command

    budget = {
        "server_cpus": args.server_cpus,
        "server_threads": args.server_threads,
        "batch_size": args.batch_size,
        "batch_delay_ms": args.batch_delay_ms if args.batch_size > 1 else 0,
    }
    return up_command(
        args.model, args.artifacts, args.state_dir, budget, args.tfserving_bin, args.mode
    )


def run_cold_start(args: argparse.Namespace) -> int:
    from servebench.commands import cold_start_command

    return cold_start_command(args)


def run_probe(args: argparse.Namespace) -> int:
    from servebench.commands import probe_command

    return probe_command(args.model, args.state_dir, args.out)


def run_bench(args: argparse.Namespace) -> int:
    from servebench.commands import bench_command

    return bench_command(args)


def run_calibrate(args: argparse.Namespace) -> int:
    from servebench.commands import calibrate_command

    return calibrate_command(args)


def run_report(args: argparse.Namespace) -> int:
    from servebench.commands import report_command

    return report_command(args.run_dir, args.results, args.format)


def run_validate(args: argparse.Namespace) -> int:
    from servebench.commands import validate_command

    return validate_command(args.root)


def run_down(args: argparse.Namespace) -> int:
    from servebench.commands import down_command

    return down_command(args.state_dir)


def run_demo(args: argparse.Namespace) -> int:
    from servebench.commands import demo_command

    return demo_command(args.out, args.state_dir)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's C++ start-up chatter hides output
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (UsageError, CheckFailed) as exc:
        print(f"servebench {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"servebench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
