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
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from servebench.errors import UsageError
from servebench.models import TORCH_DEFS, ModelSpec, image_python
from servebench.paths import REPO_ROOT

HANDLER = REPO_ROOT / "services" / "torchserve" / "handler.py"


def mar_version(version: int) -> str:
    """TorchServe's name for servebench's model version N."""
    return f"{version}.0"


def write_mar(spec: ModelSpec, weights: Path, mar: Path, max_batch: int, version: int) -> Path:
    """Build ``mar`` (model version ``version``) with torch-model-archiver; return its path."""
    store = mar.parent
    if not HANDLER.is_file():
        raise UsageError(
            f"TorchServe handler not found at {HANDLER}; run from a servebench checkout"
        )
    for source in (HANDLER, _definitions_file(spec)):
        found = image_python.problem(source)
        if found:
            raise UsageError(f"{found}: the .mar runs on the official TorchServe image's Python "
                             f"{'.'.join(map(str, image_python.IMAGE_PYTHON))}")  # fmt: skip
    store.mkdir(parents=True, exist_ok=True)
    # Built beside the store and renamed into it: a server never sees a half-written archive.
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=store) as staging:
        config = Path(staging) / "servebench_model.json"
        config.write_text(json.dumps(_handler_config(spec, max_batch), indent=2))
        definitions = Path(staging) / _definitions_file(spec).name
        shutil.copyfile(_definitions_file(spec), definitions)
        command = [
            # As a module: the console script is not always beside the interpreter (Debian's
            # python3 is /usr/bin, pip's scripts /usr/local/bin).
            sys.executable,
            "-m",
            "model_archiver.model_packaging",
            "--model-name",
            spec.name,
            "--version",
            mar_version(version),
            "--serialized-file",
            str(weights),
            "--handler",
            str(HANDLER),
            "--extra-files",
            f"{config},{definitions}",
            "--export-path",
            staging,
            "--force",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise UsageError(f"torch-model-archiver failed: {result.stderr.strip()[-500:]}")
        os.replace(Path(staging) / f"{spec.name}.mar", mar)
    return mar


def _definitions_file(spec: ModelSpec) -> Path:
    """The Python file the handler builds the model from: servebench's, or the user's."""
    return spec.definition or TORCH_DEFS


def _handler_config(spec: ModelSpec, max_batch: int) -> dict:
    config = {
        "model": spec.name,
        "input_shape": list(spec.input_shape),
        "num_outputs": spec.num_outputs,
        "max_batch": max_batch,
    }
    if spec.definition:
        config |= {"definitions": spec.definition.name, "class": spec.class_name}
    return config


def load_mar(mar: Path, workdir: Path):
    """Load ``mar`` as a TorchServe worker does and return ``predict(np.ndarray) -> np.ndarray``."""
    service = load_mar_service(mar, workdir)

    def predict(batch: np.ndarray) -> np.ndarray:
        body = np.ascontiguousarray(batch, dtype="<f4").tobytes()
        (reply,) = call_handler(service, [("data", "application/octet-stream", body)])
        return np.frombuffer(reply, dtype="<f4").reshape(batch.shape[0], -1)

    return predict


def load_mar_service(mar: Path, workdir: Path):
    """Unpack ``mar`` into ``workdir`` and load it with TorchServe's own model loader.

    The handler, its config and the state_dict are exercised exactly as in a server worker.
    """
    import ts
    from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
    from ts.model_loader import ModelLoaderFactory

    # The base handler warns about optional accelerators (OpenVINO, TensorRT) it does not find.
    logging.getLogger("ts.torch_handler.base_handler").setLevel(logging.ERROR)
    with zipfile.ZipFile(mar) as archive:
        archive.extractall(workdir)
    manifest = json.loads((workdir / "MAR-INF" / "MANIFEST.json").read_text())["model"]
    sys.modules.pop(Path(manifest["handler"]).stem, None)  # each archive has its own handler.py
    sys.path.insert(0, str(workdir))
    try:
        metrics = MetricsCacheYamlImpl(str(Path(ts.__file__).parent / "configs" / "metrics.yaml"))
        metrics.initialize_cache()
        loader = ModelLoaderFactory.get_model_loader()
        return loader.load(
            manifest["modelName"], str(workdir), manifest["handler"], None, 1, metrics_cache=metrics
        )
    finally:
        sys.path.remove(str(workdir))


def call_handler(service, requests: list[tuple[str, str, object]]) -> list:
    """Send requests, each one (input name, content type, value), through the loaded handler.

    The values reach the handler as TorchServe's worker passes them; a PredictionException
    propagates, where the server would turn it into HTTP 400 / INVALID_ARGUMENT.
    """
    from ts.service import Service

    batch = [
        {
            "requestId": str(index).encode(),
            "parameters": [{"name": name, "contentType": content_type, "value": value}],
        }
        for index, (name, content_type, value) in enumerate(requests)
    ]
    headers, inputs, _ = Service.retrieve_data_for_inference(batch)
    service.context.request_processor = headers
    return service._entry_point(inputs, service.context)
