"""The `servebench` command line: one subcommand per step of the pipeline."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import sys
import typing
from collections.abc import Callable
from pathlib import Path

from servebench.clients import TARGETS
from servebench.commands import BenchOptions
from servebench.errors import CheckFailed, UsageError
from servebench.load import options as load
from servebench.models import DEFAULT_MAX_BATCH, DEFAULT_SEED, MODELS

MODEL_HELP = f"{', '.join(MODELS)}, all, or a model exported with --model-file"


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
    _export_parser(commands)
    _parity_parser(commands)
    _up_parser(commands)
    _cold_start_parser(commands)
    _probe_bad_inputs_parser(commands)
    _bench_parser(commands)
    _calibrate_parser(commands)
    _report_parser(commands)
    _validate_parser(commands)
    _down_parser(commands)
    _demo_parser(commands)
    return parser


def _export_parser(commands) -> None:
    export = commands.add_parser("export", help="build the TorchServe .mar and TF SavedModel")
    export.add_argument("--model", help=f"{MODEL_HELP}: with --model-file, the name to give it "
                        "(default: resnet18, or the file's name)")  # fmt: skip
    export.add_argument("--weights", type=Path, help="a PyTorch state_dict for the same topology")
    export.add_argument(
        "--model-file",
        type=Path,
        help="your own model: a .py file defining a torch.nn.Module class",
    )
    export.add_argument(
        "--class",
        dest="class_name",
        help="the model's class in --model-file (default: its only nn.Module)",
    )
    export.add_argument(
        "--input-shape", type=_shape, help="with --model-file: one sample's shape, e.g. 3,32,32"
    )
    export.add_argument("--atol", type=_positive_float,
                        help="with --model-file: the parity tolerance (default: 1e-4)")  # fmt: skip
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
    export.add_argument(
        "--version",
        type=_positive_int,
        default=1,
        help="model version to write: `up` serves version 1; a later one (e.g. 2, with other "
        "--weights or --seed) is what `bench --scenario rollout` rolls out beside it",
    )
    export.add_argument(
        "--model-base",
        type=Path,
        help="also put version 1 of each model in this TF Serving model base, where it is "
        "missing or differs (Compose's export: the base TF Serving reads and a rollout writes)",
    )


def _parity_parser(commands) -> None:
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


def _up_parser(commands) -> None:
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
        "--queue-size",
        type=_positive_int,
        default=100,
        help="requests each server may hold beyond those it computes: TorchServe's "
        "job_queue_size per model (then 503); TF Serving's queue exists only when batching "
        "(max_enqueued_batches, in batches)",
    )
    up.add_argument(
        "--tfserving-bin",
        type=Path,
        help="a tensorflow_model_server binary (default: one on PATH, else the emulator)",
    )
    up.add_argument(
        "--with-diy",
        action="store_true",
        help="also start the diy baseline (Starlette + ONNX Runtime, REST only) on the same "
        "CPUs and threads: a third arm beside the servers, never in their verdict",
    )
    _state_option(up)


def _cold_start_parser(commands) -> None:
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


def _probe_bad_inputs_parser(commands) -> None:
    probe = commands.add_parser(
        "probe-bad-inputs", help="send bad inputs to all four endpoints; show who answers how"
    )
    probe.add_argument("--model", help=f"{MODEL_HELP} (default: every model served)")
    probe.add_argument("--out", type=Path, help="JSON results (default: STATE_DIR/bad-inputs.json)")
    _state_option(probe)


def _bench_parser(commands) -> None:
    bench = commands.add_parser("bench", help="load each target in turn; write results/<run-id>/")
    bench.set_defaults(**dataclasses.asdict(BenchOptions()))  # one place for the defaults
    bench.add_argument("--scenario", help="a file in loadtest/scenarios/: "
                       "steady, ramp, spike, soak, poisson or fault")  # fmt: skip
    bench.add_argument("--model", help=f"{MODEL_HELP} (default: every model served)")
    bench.add_argument(
        "--targets",
        help=f"comma-separated, any of: {', '.join(TARGETS)} (default: these four), and "
        "diy-rest where `up --with-diy` started the baseline",
    )
    bench.add_argument("--duration", type=_seconds, help="each run's measured window (default: "
                       f"{load.WINDOW_S:g}s; soak {load.SOAK_S / 60:g}m)")  # fmt: skip
    bench.add_argument("--warmup", type=_seconds, help="each run's load first, then discarded "
                       "(default: 5s)")  # fmt: skip
    bench.add_argument("--repeat", type=_positive_int, help="separate runs of each target (each "
                       "its own Locust, warm-up and window), interleaved AB, BA, ...; the "
                       "verdict's intervals are over them (default: 3; ramp, spike, soak: one "
                       "run)")  # fmt: skip
    bench.add_argument("--users", type=_positive_int, help="concurrent users")
    bench.add_argument("--rate", type=float,
                       help="poisson: arrivals per second (needed unless --find-knee)")  # fmt: skip
    bench.add_argument("--batch", type=_positive_int, help="rows per request")
    bench.add_argument(
        "--workers", type=int,
        help="Locust worker processes under one master (default: 0, a single process)",
    )  # fmt: skip
    bench.add_argument("--loadgen-cpus", help="CPUs for Locust (default: those not the servers')")
    bench.add_argument("--server-cpus", help="CPUs both servers run on, as for `up`: the running "
                       "local servers move there (default: where `up` put them)")  # fmt: skip
    bench.add_argument("--find-knee", action="store_true",
                       help="search the highest Poisson rate whose p99 meets --slo-ms")  # fmt: skip
    bench.add_argument("--slo-ms", type=float, help="p99 objective (default: 100 resnet18, 10 mlp)")
    bench.add_argument(
        "--step-seconds",
        type=_seconds,
        help=f"ramp/spike: step length (default: {load.STEP_SECONDS:g}s)",
    )
    bench.add_argument(
        "--step-users",
        type=_positive_int,
        help=f"ramp: users added per step (default: {load.STEP_USERS})",
    )
    bench.add_argument(
        "--spike-users",
        type=_positive_int,
        help=f"spike: users at the peak (default: {load.SPIKE_USERS})",
    )
    bench.add_argument(
        "--encoding",
        choices=["native", "json"],
        help="REST bodies: each server's native best (TorchServe raw float32), or JSON on both",
    )
    bench.add_argument(
        "--fault",
        choices=["worker", "server"],
        help="fault: kill TorchServe's worker, or the whole server in its container",
    )
    bench.add_argument(
        "--aa",
        action="store_true",
        help="A/A run: the one target of --targets as both arms; the verdict must name no winner",
    )
    bench.add_argument(
        "--aa-hold-ms",
        type=float,
        help="with --aa, the power check: arm B's every request is held this long before it is "
        "sent, counted in its latency (a server that much slower); the verdict must name arm A",
    )
    bench.add_argument(
        "--calibrate-seconds",
        type=_seconds_or_off,
        help="measure the load generator's ceiling first where calibration.json lacks this "
        "run's protocols, payloads, encodings or CPUs (default: 5s per case; 0: never, and no "
        "verdict without it)",
    )
    bench.add_argument("--no-limits", action="store_true", help="skip the in-process limits")
    bench.add_argument(
        "--limits-seconds",
        type=_seconds,
        help="in-process measurement per framework (default: 5s)",
    )
    bench.add_argument("--out", type=Path, help="results folder")
    _state_option(bench)


def _calibrate_parser(commands) -> None:
    calibrate = commands.add_parser("calibrate", help="measure the load generator's own ceiling")
    calibrate.add_argument(
        "--duration", type=_seconds, default=10.0, help="per case (default: 10s)"
    )
    calibrate.add_argument("--users", type=_positive_int, default=32, help="concurrent users")
    calibrate.add_argument("--model", help=f"{MODEL_HELP} (default: the reference models)")
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


def _report_parser(commands) -> None:
    report = commands.add_parser("report", help="results/<run-id>/ -> report.html and report.md")
    report.add_argument(
        "run_dir", type=Path, nargs="?", help="a bench run folder (default: newest)"
    )
    report.add_argument(
        "--format",
        dest="formats",
        metavar="FORMAT",
        default="html,md",
        help="html, md, or html,md (also written both)",
    )
    report.add_argument("--results", type=Path, default=Path("results"), help="where runs live")
    compare = commands.add_parser(
        "compare", help="two run folders judged by the verdict's rules (an upgrade, a config)"
    )
    compare.add_argument("run_a", type=Path, help="a bench run folder")
    compare.add_argument("run_b", type=Path, help="another bench run folder")
    compare.add_argument(
        "--label",
        help="what differs between the runs; needed where their weights, parity or CPU budget "
        "differ",
    )
    compare.add_argument(
        "--out", type=Path, help="where compare.md and .html go (default: results/compare-A-vs-B)"
    )


def _validate_parser(commands) -> None:
    validate = commands.add_parser("validate", help="offline checks of compose, k8s, Dockerfiles")
    validate.add_argument("--root", type=Path, help="a servebench checkout (default: this one)")


def _down_parser(commands) -> None:
    down = commands.add_parser("down", help="stop everything `up` started")
    _state_option(down)


def _demo_parser(commands) -> None:
    demo = commands.add_parser(
        "demo", help="the main job end to end: export, up, parity, probe, bench, report, down"
    )
    demo.add_argument("--out", type=Path, default=Path("artifacts"), help="artifact folder")
    _state_option(demo)


def _model_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--model",
        default=default,
        help=f"{MODEL_HELP} (default: {default})",
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


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(part) for part in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a shape; give positive sizes separated by commas, e.g. 3,32,32"
        )
    return dims


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's C++ start-up chatter hides output
    args = build_parser().parse_args(argv)
    try:
        function = command_function(args.command)
        return function(**command_arguments(function, args))
    except (UsageError, CheckFailed) as exc:
        print(f"servebench {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"servebench {args.command}: interrupted", file=sys.stderr)
        return 130


def command_function(command: str) -> Callable[..., int]:
    """`cold-start` -> commands.cold_start_command (imported only now: it is what runs)."""
    from servebench import commands

    return getattr(commands, command.replace("-", "_") + "_command")


def command_arguments(function: Callable[..., int], args: argparse.Namespace) -> dict:
    """The function's parameters from the parsed options of the same names; a dataclass
    parameter is built from the options named like its fields."""
    hints = typing.get_type_hints(function)
    arguments = {}
    for name in inspect.signature(function).parameters:
        hint = hints.get(name)
        if dataclasses.is_dataclass(hint):
            fields = dataclasses.fields(hint)
            arguments[name] = hint(**{field.name: getattr(args, field.name) for field in fields})
        else:
            arguments[name] = getattr(args, name)
    return arguments


if __name__ == "__main__":
    sys.exit(main())
