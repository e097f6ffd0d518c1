"""Reference models: one PyTorch definition each, a TensorFlow twin, and their weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from servebench.errors import UsageError

# The models' torch definitions, copied into every .mar; a path, so that naming it imports no torch.
TORCH_DEFS = Path(__file__).with_name("torch_defs.py")


@dataclass(frozen=True)
class ModelSpec:
    """What every step needs to know about a model's interface."""

    name: str
    input_shape: tuple[int, ...]  # one sample, without the batch dimension
    num_outputs: int
    slo_ms: float  # default p99 latency objective for the knee search
    input_name: str = "input"
    output_name: str = "logits"

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


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise UsageError(f"unknown model {name!r}; choose one of: {known}") from None


def select_models(name: str) -> list[ModelSpec]:
    """The models a ``--model`` option names: one, or all of them for ``all``."""
    if name == "all":
        return list(MODELS.values())
    return [get_model(name)]
