"""ONNX -> TF SavedModel with onnx2tf, for a user's model (the reference models have twins
written by hand). onnx2tf pins its own TensorFlow, so it lives in a virtual environment of its
own inside servebench's, installed by scripts/install-onnx2tf.sh, and runs as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from servebench.errors import UsageError
from servebench.paths import REPO_ROOT

INSTALLER = REPO_ROOT / "scripts" / "install-onnx2tf.sh"
CONVERT_TIMEOUT_S = 900


def converter_home() -> Path:
    return Path(sys.prefix) / "onnx2tf"


def converter(progress: Callable[[str], None] = print) -> Path:
    """The onnx2tf command, installed on first use."""
    command = converter_home() / "bin" / "onnx2tf"
    if not command.exists():
        progress(f"onnx2tf is not installed yet; installing it into {converter_home()} "
                 "(its own TensorFlow; about 2.6 GB and 2-3 minutes) ...")  # fmt: skip
        result = subprocess.run(["bash", str(INSTALLER), sys.prefix], text=True)
        if result.returncode != 0 or not command.exists():
            raise UsageError(f"onnx2tf did not install; run `bash {INSTALLER} {sys.prefix}` "
                             "and read its output")  # fmt: skip
    return command


def converter_version() -> str:
    """onnx2tf's version, read from its install (it decides what the SavedModel contains)."""
    found = sorted(converter_home().glob("lib/python*/site-packages/onnx2tf-*.dist-info"))
    return found[-1].name.removeprefix("onnx2tf-").removesuffix(".dist-info") if found else "none"


def supported_operators() -> set[str]:
    """onnx2tf converts an ONNX node by the module named for its op_type: those it has."""
    (ops,) = converter_home().glob("lib/python*/site-packages/onnx2tf/ops")
    return {path.stem for path in ops.glob("*.py") if not path.stem.startswith("_")}


def unconvertible_operators(onnx_file: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(onnx_file), load_external_data=False).graph
    used = {_qualified(node) for node in graph.node}
    supported = supported_operators()
    return sorted(op for op in used if op.rsplit("::", 1)[-1] not in supported)


def _qualified(node) -> str:
    return f"{node.domain}::{node.op_type}" if node.domain else node.op_type


def convert(onnx_file: Path, out: Path, input_name: str, progress: Callable[[str], None]) -> Path:
    """Convert ``onnx_file`` into the SavedModel folder ``out``, keeping the input's layout
    (NCHW stays NCHW, so both servers receive the same bytes)."""
    command = converter(progress)
    refused = unconvertible_operators(onnx_file)
    if refused:
        raise UsageError(
            f"onnx2tf cannot convert the operator(s) {', '.join(refused)} in {onnx_file.name}; "
            "rewrite those layers with standard ONNX operators that onnx2tf supports"
        )
    with tempfile.TemporaryDirectory(prefix="servebench-onnx2tf-") as workdir:
        result = subprocess.run(
            [str(command), "-i", str(onnx_file.resolve()), "-o", str(out.resolve()),
             "-kat", input_name, "-osd", "-n"],
            cwd=workdir,  # onnx2tf drops scratch files in its working folder
            capture_output=True,
            text=True,
            timeout=CONVERT_TIMEOUT_S,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
        )  # fmt: skip
    if result.returncode != 0 or not (out / "saved_model.pb").is_file():
        raise UsageError(
            f"onnx2tf could not convert {onnx_file.name}: {_last_error(result)}; "
            "the layers the README lists as tried convert"
        )
    return out


def _last_error(result: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return ((errors or lines or ["no output"])[-1])[:300]
