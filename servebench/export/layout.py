"""Where export puts each artifact, so later steps find them without being told."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TF_VERSION_DIR = "1"


@dataclass(frozen=True)
class ArtifactLayout:
    root: Path

    @property
    def model_store(self) -> Path:
        """TorchServe's --model-store: one <name>.mar per model."""
        return self.root / "torchserve"

    @property
    def tf_base(self) -> Path:
        """TF Serving's base: <name>/<version>/saved_model.pb per model."""
        return self.root / "tfserving"

    def mar(self, name: str) -> Path:
        return self.model_store / f"{name}.mar"

    def savedmodel(self, name: str) -> Path:
        return self.tf_base / name / TF_VERSION_DIR

    def model_dir(self, name: str) -> Path:
        return self.root / name

    def weights(self, name: str) -> Path:
        return self.model_dir(name) / "weights.pt"

    def onnx(self, name: str) -> Path:
        """The diy server's model: ONNX with a dynamic batch dimension."""
        return self.model_dir(name) / "model.onnx"

    def manifest(self, name: str) -> Path:
        return self.model_dir(name) / "manifest.json"
