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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tfserving-emulator", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="gRPC port")
    parser.add_argument("--rest_api_port", type=int, required=True)
    parser.add_argument("--model_config_file", type=Path, required=True)
    parser.add_argument("--monitoring_config_file", type=Path)
    parser.add_argument("--tensorflow_intra_op_parallelism", type=int, default=0)
    parser.add_argument("--tensorflow_inter_op_parallelism", type=int, default=0)
    parser.add_argument(
        "--rest_api_num_threads",
        type=int,
        default=16,
        help="gRPC worker threads (REST uses one thread per connection)",
    )
    parser.add_argument("--bind", default="127.0.0.1", help="the emulator binds here only")
    return parser.parse_args(argv)


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

    registry = ServableRegistry(args.model_config_file)
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
    rest_server = RestServer((args.bind, args.rest_api_port), registry, metrics, metrics_path)
    rest_thread = threading.Thread(target=rest_server.serve_forever, daemon=True)
    rest_thread.start()
    print(
        f"{IMPLEMENTATION}: serving {sorted(registry.servables)} "
        f"gRPC {args.bind}:{args.port} REST {args.bind}:{args.rest_api_port}",
        flush=True,
    )

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    rest_server.shutdown()
    grpc_server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
