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
    if args.model_config_file is None and args.model_base_path is None:
        parser.error("give --model_config_file, or --model_name and --model_base_path")
    return args


def model_bases(args: argparse.Namespace) -> dict[str, Path] | None:
    """Models from --model_name/--model_base_path; None when a config file names them (which,
    as in TF Serving, takes precedence)."""
    if args.model_config_file is not None:
        return None
    return {args.model_name: args.model_base_path}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import grpc
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

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
    if args.monitoring_config_file:
        monitoring = monitoring_config_pb2.MonitoringConfig()
        text_format.Parse(args.monitoring_config_file.read_text(), monitoring)
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
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.rest_api_num_threads), options=options
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(registry, metrics), grpc_server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(registry), grpc_server)
    grpc_server.add_insecure_port(f"{args.bind}:{args.port}")
    grpc_server.start()
    rest_server = None
    if args.rest_api_port:
        rest_server = RestServer((args.bind, args.rest_api_port), registry, metrics, metrics_path)
        threading.Thread(target=rest_server.serve_forever, daemon=True).start()
    print(
        f"{IMPLEMENTATION}: serving {sorted(registry.servables)} "
        f"gRPC {args.bind}:{args.port} REST {args.bind}:{args.rest_api_port or 'off'}",
        flush=True,
    )

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
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
