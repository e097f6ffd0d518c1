"""In-process limits: the same model in torch and in TF, called directly, on the server CPUs.

That is each framework's upper bound on this machine; a server's throughput divided by it is
its serving efficiency. Run as ``python -m servebench.bench.limits`` in a child process pinned
to the servers' CPUs, so it gets exactly their budget.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def measure(predict, batch: np.ndarray, seconds: float) -> dict:
    """Closed loop, one call at a time, for ``seconds`` after a one-second warm-up."""
    warm_until = time.perf_counter() + 1.0
    while time.perf_counter() < warm_until:
        predict(batch)
    latencies = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        began = time.perf_counter()
        predict(batch)
        latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    millis = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "latency_ms": {
            "p50": float(np.percentile(millis, 50)),
            "p99": float(np.percentile(millis, 99)),
        },
    }


def _torch_predict(model: str, artifacts: Path, threads: int):
    import torch

    from servebench.export import torch_predict
    from servebench.models import get_model
    from servebench.models.weights import load_state

    torch.set_num_threads(threads)
    spec = get_model(model)
    return torch_predict(spec, load_state(model, artifacts / model / "weights.pt"))


def _tf_predict(model: str, artifacts: Path, threads: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from servebench.export.savedmodel import load_savedmodel
    from servebench.models import get_model

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return load_savedmodel(get_model(model), artifacts / "tfserving" / model / "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="servebench-limits")
    parser.add_argument("--model", required=True)
    parser.add_argument("--framework", choices=["torch", "tensorflow"], required=True)
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    from servebench.models import get_model
    from servebench.payloads import sample_batch

    build = _torch_predict if args.framework == "torch" else _tf_predict
    predict = build(args.model, args.artifacts, args.threads)
    result = measure(predict, sample_batch(get_model(args.model), args.batch), args.seconds)
    result.update(framework=args.framework, threads=args.threads, batch=args.batch)
    result["cpus"] = sorted(os.sched_getaffinity(0))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
