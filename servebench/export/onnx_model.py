"""The do-it-yourself artifact: the PyTorch model as ONNX, for the diy server's ONNX Runtime.

Exported with torch's TorchScript-based exporter: it needs no package beyond `onnx`, and for
these two models (an MLP and a plain ResNet) its graph matches the module exactly. The newer
torch.export-based exporter would add `onnxscript` to the pins for no gain here.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from servebench.errors import UsageError, first_line
from servebench.models import ModelSpec

OPSET = 17
BATCH_AXIS = "batch"


def write_onnx(spec: ModelSpec, state: dict, path: Path) -> Path:
    """Write ``spec`` with ``state`` (a state_dict) to ``path`` as ONNX, with a dynamic batch
    dimension."""
    # torch only here: the diy server imports this module for its session, and must not carry
    # torch's memory and start-up time, which its numbers would then include.
    import torch

    from servebench.models.custom import build_module

    model = build_module(spec)
    model.load_state_dict(state)
    model.eval()
    example = torch.zeros(1, *spec.input_shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed over: a server never reads a half-written model.
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".staging-", delete=False) as staged:
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecation note about the TorchScript exporter
            _export(model, example, staged.name, spec)
        os.chmod(staged.name, 0o644)  # mkstemp's 0600 would hide it from a server of another user
        os.replace(staged.name, path)
    finally:
        Path(staged.name).unlink(missing_ok=True)
    return path


def _export(model, example, path: str, spec: ModelSpec) -> None:
    import torch

    try:
        torch.onnx.export(
            model,
            (example,),
            path,
            input_names=[spec.input_name],
            output_names=[spec.output_name],
            dynamic_axes={spec.input_name: {0: BATCH_AXIS}, spec.output_name: {0: BATCH_AXIS}},
            opset_version=OPSET,
            dynamo=False,
        )
    except Exception as exc:  # noqa: BLE001 (torch's exporter fails with many error types)
        raise UsageError(f"torch cannot export {spec.name} to ONNX: {first_line(exc)}") from None


def onnx_session(path: Path, threads: int = 1):
    """An ONNX Runtime session on the CPU with ``threads`` intra-op threads and one inter-op."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_onnx(spec: ModelSpec, path: Path):
    """A ``predict(np.ndarray) -> np.ndarray`` that runs the ONNX model read back from disk."""
    session = onnx_session(path)

    def predict(batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return session.run([spec.output_name], {spec.input_name: batch})[0]

    return predict
