"""The TorchServe artifact: a .mar holding an eager model definition plus a plain state_dict.

Why not TorchScript or torch.export: the pinned image pytorch/torchserve:0.12.0-cpu runs torch 2.4,
and programs serialized by torch 2.13 carry format versions that older torch refuses to read. A
state_dict saved by torch.save is a zip of raw tensors whose format has not changed since torch
1.6, and it loads with ``weights_only=True``, so no pickled code runs in the server. The model's
Python definition travels in the archive (torch_defs.py imports only torch).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from servebench.errors import UsageError
from servebench.models import ModelSpec, torch_defs

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLER = REPO_ROOT / "services" / "torchserve" / "handler.py"
MAR_VERSION = "1.0"


def write_mar(spec: ModelSpec, weights: Path, store: Path, max_batch: int) -> Path:
    """Build ``<store>/<name>.mar`` with torch-model-archiver and return its path."""
    if not HANDLER.is_file():
        raise UsageError(f"TorchServe handler not found at {HANDLER}; run from a servebench checkout")
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="servebench-mar-") as staging:
        config = Path(staging) / "servebench_model.json"
        config.write_text(json.dumps(_handler_config(spec, max_batch), indent=2))
        definitions = Path(staging) / "torch_defs.py"
        shutil.copyfile(torch_defs.__file__, definitions)
        command = [
            str(Path(sys.executable).with_name("torch-model-archiver")),
            "--model-name", spec.name,
            "--version", MAR_VERSION,
            "--serialized-file", str(weights),
            "--handler", str(HANDLER),
            "--extra-files", f"{config},{definitions}",
            "--export-path", str(store),
            "--force",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise UsageError(f"torch-model-archiver failed: {result.stderr.strip()[-500:]}")
    return store / f"{spec.name}.mar"


def _handler_config(spec: ModelSpec, max_batch: int) -> dict:
    return {
        "model": spec.name,
        "input_shape": list(spec.input_shape),
        "num_outputs": spec.num_outputs,
        "max_batch": max_batch,
    }


def load_mar(mar: Path, workdir: Path):
    """Load ``mar`` as a TorchServe worker does and return ``predict(np.ndarray) -> np.ndarray``.

    The archive is unpacked into ``workdir`` and handed to TorchServe's own model loader, so the
    handler, its config and the state_dict are exercised exactly as in the server.
    """
    from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
    from ts.model_loader import ModelLoaderFactory
    from ts.service import Service

    import ts

    # The base handler warns about optional accelerators (OpenVINO, TensorRT) it does not find.
    logging.getLogger("ts.torch_handler.base_handler").setLevel(logging.ERROR)
    with zipfile.ZipFile(mar) as archive:
        archive.extractall(workdir)
    manifest = json.loads((workdir / "MAR-INF" / "MANIFEST.json").read_text())
    handler_module = Path(manifest["model"]["handler"]).stem
    sys.modules.pop(handler_module, None)  # each archive brings its own handler.py
    sys.path.insert(0, str(workdir))
    try:
        metrics = MetricsCacheYamlImpl(str(Path(ts.__file__).parent / "configs" / "metrics.yaml"))
        metrics.initialize_cache()
        loader = ModelLoaderFactory.get_model_loader()
        service = loader.load(
            manifest["model"]["modelName"], str(workdir), manifest["model"]["handler"],
            None, 1, metrics_cache=metrics,
        )  # fmt: skip
    finally:
        sys.path.remove(str(workdir))

    def predict(batch: np.ndarray) -> np.ndarray:
        request = {
            "requestId": b"parity",
            "parameters": [
                {"name": "data", "contentType": "application/octet-stream",
                 "value": np.ascontiguousarray(batch, dtype="<f4").tobytes()}
            ],
        }  # fmt: skip
        headers, inputs, _ = Service.retrieve_data_for_inference([request])
        service.context.request_processor = headers
        (reply,) = service._entry_point(inputs, service.context)
        return np.frombuffer(reply, dtype="<f4").reshape(batch.shape[0], -1)

    return predict
