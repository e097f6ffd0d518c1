"""In-process limits: the served artifacts themselves, called directly, on the server CPUs.

Each side runs what its server runs, without the server: the .mar's own handler (preprocess,
inference, postprocess on raw float32 bytes, as TorchServe's worker calls it) and the
SavedModel's serving_default concrete function (what TF Serving runs); for the diy baseline, its
ONNX model in ONNX Runtime. The calls come from as
many threads as the served run had users. That is each side's upper bound on this machine; a
server's throughput divided by it is its serving efficiency. measure_limits runs main() in a
child process pinned to the servers' CPUs, so it gets exactly their budget.
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

from servebench.bench.plan import BenchPlan
from servebench.errors import UsageError
from servebench.export.layout import ArtifactLayout
from servebench.stats import ci95

ARTIFACT = {
    "torch": "the .mar's handler: preprocess, inference, postprocess of raw float32",
    "tensorflow": "the SavedModel's serving_default concrete function",
    "onnxruntime": "the ONNX model in an ONNX Runtime session, one call at a time (the diy server)",
}


# Not ``-m servebench.bench.limits``: the bench package imports this module first, and runpy
# would warn that it runs a module already imported.
CHILD = "import sys; from servebench.bench.limits import main; sys.exit(main())"
WINDOWS = 3  # the measurement is cut into windows, for a confidence interval of the rate


def measure(predict, batch: np.ndarray, seconds: float, concurrency: int = 1) -> dict:
    """``concurrency`` threads in closed loops, for ``seconds`` after a one-second warm-up."""
    warm_until = time.perf_counter() + 1.0
    while time.perf_counter() < warm_until:
        predict(batch)
    start = time.perf_counter()
    stop_at = start + seconds
    calls: list[tuple[float, float]] = []  # (end, latency), appended from every thread

    def loop() -> None:
        while (began := time.perf_counter()) < stop_at:
            predict(batch)
            ended = time.perf_counter()
            calls.append((ended, ended - began))

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ends = np.asarray([end for end, _ in calls]) - start
    window = seconds / WINDOWS
    rates = [float(((ends >= k * window) & (ends < (k + 1) * window)).sum() / window)
             for k in range(WINDOWS)]  # fmt: skip
    millis = np.asarray([latency for _, latency in calls]) * 1000
    return {
        "requests": len(calls),
        "rps": float(np.median(rates)),
        "rps_ci95": ci95(rates),
        "concurrency": concurrency,
        "latency_ms": {
            "p50": float(np.percentile(millis, 50)),
            "p99": float(np.percentile(millis, 99)),
        },
    }


def _torch_predict(model: str, artifacts: Path, threads: int):
    """The .mar's handler, loaded from the archive the way TorchServe's worker loads it."""
    import torch

    torch.set_num_threads(threads)
    model_dir = Path(tempfile.mkdtemp(prefix="servebench-mar-"))
    atexit.register(shutil.rmtree, model_dir, ignore_errors=True)  # this child's own scratch
    with zipfile.ZipFile(ArtifactLayout(artifacts).mar(model)) as archive:
        archive.extractall(model_dir)
    manifest = json.loads((model_dir / "MAR-INF" / "MANIFEST.json").read_text())
    handler_file = model_dir / manifest["model"]["handler"]
    module_spec = importlib.util.spec_from_file_location("servebench_mar_handler", handler_file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    handler = module.ServebenchHandler()
    handler.initialize(_WorkerContext(model_dir, manifest))
    # The handler keeps per-call state, and TorchServe's one worker per model calls it once at
    # a time: concurrent callers queue here as requests queue for that worker.
    lock = threading.Lock()

    def predict(batch: np.ndarray):
        request = [{"body": np.ascontiguousarray(batch, dtype="<f4").tobytes()}]
        with lock:
            return handler.postprocess(handler.inference(handler.preprocess(request)))

    return predict


class _WorkerContext:
    """What the handler asks of TorchServe's context: where the model is, and the headers."""

    def __init__(self, model_dir: Path, manifest: dict) -> None:
        self.system_properties = {"model_dir": str(model_dir)}
        self.manifest = manifest

    def get_request_header(self, index: int, name: str) -> dict:
        return {"content-type": "application/octet-stream"}

    def set_response_content_type(self, index: int, content_type: str) -> None:
        pass


def _tf_predict(model: str, artifacts: Path, threads: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from servebench.export.savedmodel import load_savedmodel
    from servebench.models import get_model

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return load_savedmodel(get_model(model, artifacts), artifacts / "tfserving" / model / "1")


def _onnx_predict(model: str, artifacts: Path, threads: int):
    from servebench.export.onnx_model import onnx_session
    from servebench.models import get_model

    spec = get_model(model, artifacts)
    session = onnx_session(ArtifactLayout(artifacts).onnx(model), threads)
    lock = threading.Lock()  # the diy server runs one inference at a time, as this does

    def predict(batch: np.ndarray):
        with lock:
            return session.run([spec.output_name], {spec.input_name: batch})[0]

    return predict


BUILDERS = {"torch": _torch_predict, "tensorflow": _tf_predict, "onnxruntime": _onnx_predict}


def measure_limits(plan: BenchPlan, stack: dict) -> dict:
    """Each model's in-process throughput in torch and TF (and ONNX Runtime when the diy
    baseline is measured), on the servers' CPUs and threads."""
    from servebench.bench.monitor import say  # here: the child process needs none of monitor

    frameworks = ["torch", "tensorflow"]
    if any(target.startswith("diy-") for target in plan.targets):
        frameworks.append("onnxruntime")
    limits = {}
    for spec in plan.models:
        limits[spec.name] = {}
        for framework in frameworks:
            figures = _limit(stack, spec.name, framework, plan)
            interval = figures.get("rps_ci95")
            spread = f" [{interval['low']:.1f}, {interval['high']:.1f}]" if interval else ""
            p50 = figures["latency_ms"]["p50"]
            say(f"in-process limit: {spec.name} in {framework}: {figures['rps']:.1f} req/s"
                f"{spread}, p50 {p50:.2f} ms, {plan.users} caller(s)")  # fmt: skip
            limits[spec.name][framework] = figures
    return limits


def _limit(stack: dict, model: str, framework: str, plan: BenchPlan) -> dict:
    """The artifact in-process, at the served run's concurrency (its number of users)."""
    server_cpus = stack.get("server_cpus") or sorted(os.sched_getaffinity(0))
    seconds = plan.limits_seconds
    command = [
        sys.executable, "-c", CHILD, "--model", model, "--framework", framework,
        "--artifacts", stack["artifacts"], "--threads", str(stack.get("server_threads", 1)),
        "--seconds", str(seconds), "--batch", str(plan.batch), "--concurrency", str(plan.users),
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120,
        preexec_fn=lambda: os.sched_setaffinity(0, server_cpus),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    if result.returncode != 0:
        raise UsageError(
            f"in-process measurement of {model} in {framework} failed: "
            f"{result.stderr.strip()[-300:]}"
        )
    return json.loads(result.stdout)


def ratio_interval(served: dict | None, limit: dict | None) -> dict | None:
    """The interval of served / in-process from both intervals: the served rate's low end over
    the limit's high end, and the other way round."""
    if not served or not limit or limit["low"] <= 0:
        return None
    return {"low": max(served["low"], 0.0) / limit["high"], "high": served["high"] / limit["low"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="servebench-limits")
    parser.add_argument("--model", required=True)
    parser.add_argument("--framework", choices=list(ARTIFACT), required=True)
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=1, help="threads calling at once")
    args = parser.parse_args(argv)
    from servebench.models import get_model
    from servebench.payloads import sample_batch

    predict = BUILDERS[args.framework](args.model, args.artifacts, args.threads)
    batch = sample_batch(get_model(args.model, args.artifacts), args.batch)
    result = measure(predict, batch, args.seconds, args.concurrency)
    result.update(framework=args.framework, threads=args.threads, batch=args.batch)
    result["artifact"] = ARTIFACT[args.framework]
    result["cpus"] = sorted(os.sched_getaffinity(0))
    json.dump(result, sys.stdout)
    return 0
