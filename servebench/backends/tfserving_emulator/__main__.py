"""Run the emulator: ``python -m servebench.backends.tfserving_emulator`` with a subset of
tensorflow_model_server's flags, spelled the same way, so one launcher drives either."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

# Flags of tensorflow_model_server this emulator implements. Any other flag is refused, so a
# command line never silently means something else here than with the real binary.
NOT_IMPLEMENTED = (
    "the servebench TF Serving emulator does not implement {flag}; "
    "run the real tensorflow_model_server for it"
)


# What `--version` prints: a real binary prints "TensorFlow ModelServer: <version>".
VERSION_LINE = (
    "tfserving-emulator (servebench): an emulator of TF Serving's APIs, NOT TensorFlow Serving"
)


def _flag_bool(text: str) -> bool:
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"tfserving-emulator: {message}\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(prog="tfserving-emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8500, help="gRPC port")
    parser.add_argument("--rest_api_port", type=int, default=0, help="0: no REST API")
    parser.add_argument("--model_name", default="default")
    parser.add_argument("--model_base_path", type=Path)
    parser.add_argument("--model_config_file", type=Path)
    parser.add_argument("--monitoring_config_file", type=Path)
    parser.add_argument("--enable_batching", type=_flag_bool, nargs="?", const=True, default=False)
    parser.add_argument("--batching_parameters_file", type=Path)
    parser.add_argument("--tensorflow_intra_op_parallelism", type=int, default=0)
    parser.add_argument("--tensorflow_inter_op_parallelism", type=int, default=0)
    parser.add_argument("--file_system_poll_wait_seconds", type=int, default=1)
    parser.add_argument("--model_config_file_poll_wait_seconds", type=int, default=0)
    parser.add_argument("--grpc_socket_path", default="", help="also serve gRPC on this socket")
    parser.add_argument("--grpc_channel_arguments", default="", help="k=v,k2=v2 for gRPC")
    parser.add_argument("--rest_api_timeout_in_ms", type=int, default=30000)
    parser.add_argument("--prefer_tflite_model", type=_flag_bool, nargs="?", const=True,
                        default=False)  # fmt: skip
    parser.add_argument(
        "--rest_api_num_threads",
        type=int,
        default=16,
        help="gRPC worker threads (REST uses one thread per connection)",
    )
    parser.add_argument("--bind", default="127.0.0.1", help="emulator only: the address to bind")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args, unknown = parser.parse_known_args(argv)
    if args.version:
        print(VERSION_LINE)
        sys.exit(0)
    if unknown:
        parser.error(NOT_IMPLEMENTED.format(flag=unknown[0].split("=", 1)[0]))
    if args.enable_batching:
        parser.error(NOT_IMPLEMENTED.format(flag="--enable_batching (server-side batching)"))
    if args.prefer_tflite_model:
        parser.error(NOT_IMPLEMENTED.format(flag="--prefer_tflite_model (TFLite models)"))
    if args.model_config_file is None and args.model_base_path is None:
        parser.error("give --model_config_file, or --model_name and --model_base_path")
    return args


def model_bases(args: argparse.Namespace) -> dict[str, Path] | None:
    """Models from --model_name/--model_base_path; None when a config file names them (which,
    as in TF Serving, takes precedence)."""
    if args.model_config_file is not None:
        return None
    return {args.model_name: args.model_base_path}


def channel_arguments(text: str) -> list[tuple[str, int | str]]:
    """--grpc_channel_arguments as TF Serving reads it: comma-separated key=value pairs, a value
    that reads as an integer passed as one."""
    pairs = [item.split("=", 1) for item in text.split(",") if "=" in item]
    return [(key, int(value) if value.lstrip("-").isdigit() else value) for key, value in pairs]


def fail_to_start(error: str) -> None:
    """TF Serving's way out when the server cannot be built: one line, exit status 255."""
    print(f"Failed to start server. Error: {error}", flush=True)
    sys.exit(255)


def read_text_proto(path: Path, message):
    """A text-format config file, or TF Serving's failure for a missing or malformed one: the
    parser's error on stderr, then "Invalid protobuf file" naming the file."""
    from google.protobuf import text_format

    try:
        text = path.read_text()
    except OSError as exc:
        fail_to_start(f"NOT_FOUND: {path}; {exc.strerror}")
    try:
        return text_format.Parse(text, message)
    except text_format.ParseError as exc:
        print(f"Error parsing text-format {message.DESCRIPTOR.full_name}: {exc}", file=sys.stderr)
        fail_to_start(f"INVALID_ARGUMENT: Invalid protobuf file: '{path}'")


def poll_model_config(registry, path: Path, seconds: int, stop: threading.Event, log) -> None:
    """--model_config_file_poll_wait_seconds: read the config again every ``seconds`` and
    apply it; an unreadable or malformed file is logged and the models served stay as they are."""
    from servebench.backends.tfserving_emulator.servables import read_model_config

    while not stop.wait(seconds):
        try:
            registry.reconfigure(*read_model_config(path))
        except Exception as exc:  # noqa: BLE001 (TF Serving logs any failure and keeps serving)
            log(f"Failed to read ModelServerConfig file: {exc}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc
    from tensorflow_serving.config.model_server_config_pb2 import ModelServerConfig

    from servebench.backends.tfserving_emulator import IMPLEMENTATION
    from servebench.backends.tfserving_emulator.grpc_api import ModelService, PredictionService
    from servebench.backends.tfserving_emulator.metrics import ServingMetrics
    from servebench.backends.tfserving_emulator.rest import RestServer
    from servebench.backends.tfserving_emulator.servables import ServableRegistry
    from servebench.generated import tfserving_monitoring_pb2 as monitoring_config_pb2

    tf.config.threading.set_intra_op_parallelism_threads(args.tensorflow_intra_op_parallelism)
    tf.config.threading.set_inter_op_parallelism_threads(args.tensorflow_inter_op_parallelism)
    print(f"{IMPLEMENTATION}: an emulator of TF Serving's APIs, NOT TensorFlow Serving", flush=True)

    metrics_path = None
    if args.model_config_file:  # a bad file fails the start before any model loads
        read_text_proto(args.model_config_file, ModelServerConfig())
    if args.monitoring_config_file:
        monitoring = read_text_proto(
            args.monitoring_config_file, monitoring_config_pb2.MonitoringConfig()
        )
        if monitoring.prometheus_config.enable:
            metrics_path = monitoring.prometheus_config.path or "/monitoring/prometheus/metrics"

    bases = model_bases(args)
    log = lambda line: print(f"{IMPLEMENTATION}: {line}", flush=True)  # noqa: E731
    registry = (
        ServableRegistry(bases, log)
        if bases
        else ServableRegistry.from_config_file(args.model_config_file, log)
    )
    metrics = ServingMetrics()
    # TF Serving accepts messages up to 2 GiB; gRPC Python's default receive limit is 4 MiB.
    options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    options += channel_arguments(args.grpc_channel_arguments)
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.rest_api_num_threads), options=options
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(registry, metrics), grpc_server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(registry), grpc_server)
    if args.port:
        grpc_server.add_insecure_port(f"{args.bind}:{args.port}")
    if args.grpc_socket_path:
        grpc_server.add_insecure_port(f"unix:{args.grpc_socket_path}")
    grpc_server.start()
    rest_server = None
    if args.rest_api_port:
        timeout = args.rest_api_timeout_in_ms / 1000 if args.rest_api_timeout_in_ms > 0 else None
        rest_server = RestServer(
            (args.bind, args.rest_api_port), registry, metrics, metrics_path, timeout
        )
        threading.Thread(target=rest_server.serve_forever, daemon=True).start()
    print(
        f"{IMPLEMENTATION}: serving {sorted(registry.servables)} "
        f"gRPC {args.bind}:{args.port} REST {args.bind}:{args.rest_api_port or 'off'}",
        flush=True,
    )

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.model_config_file and args.model_config_file_poll_wait_seconds > 0:
        poller = (registry, args.model_config_file, args.model_config_file_poll_wait_seconds)
        threading.Thread(target=poll_model_config, args=(*poller, stop, log), daemon=True).start()
    if args.file_system_poll_wait_seconds > 0:
        while not stop.wait(args.file_system_poll_wait_seconds):
            registry.refresh()
    stop.wait()
    if rest_server is not None:
        rest_server.shutdown()
    grpc_server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
