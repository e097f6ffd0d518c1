"""The input pool: the same float32 tensors for parity checks, clients and load generators."""

from __future__ import annotations

import numpy as np

from servebench.models import ModelSpec


def sample_batch(spec: ModelSpec, batch: int, seed: int = 0) -> np.ndarray:
    """A deterministic batch of standard-normal inputs, float32 little-endian, C-contiguous."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(spec.batch_shape(batch), dtype=np.float32).astype("<f4")
