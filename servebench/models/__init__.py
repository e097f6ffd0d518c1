"""Models: the reference ones (a PyTorch definition each, a TensorFlow twin, their weights), and
the user's own, which `export --model-file` registers in the artifact folder."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from servebench.errors import UsageError

# The models' torch definitions, copied into every .mar; a path, so that naming it imports no torch.
TORCH_DEFS = Path(__file__).with_name("torch_defs.py")

DEFAULT_ATOL = 1e-4  # parity: the largest absolute difference in logits that passes


@dataclass(frozen=True)
class ModelSpec:
    """What every step needs to know about a model's interface."""

    name: str
    input_shape: tuple[int, ...]  # one sample, without the batch dimension
    num_outputs: int
    slo_ms: float  # default p99 latency objective for the knee search
    input_name: str = "input"
    output_name: str = "logits"
    # A user's model (export --model-file): its definition file and class, in the artifacts.
    definition: Path | None = None
    class_name: str = ""
    atol: float = DEFAULT_ATOL

    @property
    def input_size(self) -> int:
        size = 1
        for dim in self.input_shape:
            size *= dim
        return size

    def batch_shape(self, batch: int) -> tuple[int, ...]:
        return (batch, *self.input_shape)


MODELS = {
    "resnet18": ModelSpec("resnet18", (3, 224, 224), 1000, slo_ms=100.0),
    "mlp": ModelSpec("mlp", (64,), 10, slo_ms=10.0),
}

# The largest batch one request may carry; both servers reject more, in the same way.
DEFAULT_MAX_BATCH = 64
DEFAULT_SEED = 0


CUSTOM_SPEC_FILE = "model.json"
CUSTOM_SLO_MS = 100.0
MODEL_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def custom_spec_path(artifacts: Path, name: str) -> Path:
    """Where `export --model-file` records a user's model: what later steps read to know it."""
    return artifacts / name / CUSTOM_SPEC_FILE


def get_model(name: str, artifacts: Path | None = None) -> ModelSpec:
    """A reference model, or a user's model exported into ``artifacts``."""
    if name in MODELS:
        return MODELS[name]
    if artifacts is not None and custom_spec_path(artifacts, name).is_file():
        return _read_custom_spec(artifacts, name)
    known = ", ".join(MODELS)
    where = f" in {artifacts}" if artifacts is not None else ""
    raise UsageError(
        f"unknown model {name!r}; choose one of: {known}, or a model exported{where} with "
        "`servebench export --model-file`"
    )


def select_models(name: str, artifacts: Path | None = None) -> list[ModelSpec]:
    """The models a ``--model`` option names: one, or the reference ones for ``all``."""
    if name == "all":
        return list(MODELS.values())
    return [get_model(name, artifacts)]


def write_custom_spec(artifacts: Path, spec: ModelSpec) -> Path:
    path = custom_spec_path(artifacts, spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "name": spec.name,
        "input_shape": list(spec.input_shape),
        "num_outputs": spec.num_outputs,
        "slo_ms": spec.slo_ms,
        "atol": spec.atol,
        # relative, so the folder can move (containers mount it elsewhere)
        "definition": spec.definition.name if spec.definition else None,
        "class": spec.class_name,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def _read_custom_spec(artifacts: Path, name: str) -> ModelSpec:
    path = custom_spec_path(artifacts, name)
    try:
        record = json.loads(path.read_text())
        return ModelSpec(
            name=record["name"],
            input_shape=tuple(record["input_shape"]),
            num_outputs=record["num_outputs"],
            slo_ms=record["slo_ms"],
            definition=path.parent / record["definition"],
            class_name=record["class"],
            atol=record["atol"],
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{path} is damaged ({exc}); export the model again with `servebench export "
            f"--model-file ... --model {name}`"
        ) from None
