"""Where export puts each artifact, so later steps find them without being told."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FIRST_VERSION = 1  # what export writes unless told --version, and what `up` serves


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

    # Later versions (export --version N) sit beside the first: <name>.vN.mar, the TF version
    # folder N, and their weights and manifest in <name>/vN/. `up` serves the first only.
    def mar(self, name: str, version: int = FIRST_VERSION) -> Path:
        suffix = "" if version == FIRST_VERSION else f".v{version}"
        return self.model_store / f"{name}{suffix}.mar"

    def savedmodel(self, name: str, version: int = FIRST_VERSION) -> Path:
        return self.tf_base / name / str(version)

    def model_dir(self, name: str, version: int = FIRST_VERSION) -> Path:
        folder = self.root / name
        return folder if version == FIRST_VERSION else folder / f"v{version}"

    def weights(self, name: str, version: int = FIRST_VERSION) -> Path:
        return self.model_dir(name, version) / "weights.pt"

    def onnx(self, name: str, version: int = FIRST_VERSION) -> Path:
        """The diy server's model: ONNX with a dynamic batch dimension."""
        return self.model_dir(name, version) / "model.onnx"

    def manifest(self, name: str, version: int = FIRST_VERSION) -> Path:
        return self.model_dir(name, version) / "manifest.json"
