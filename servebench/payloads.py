"""The input pool: the same float32 tensors for parity checks, clients and load generators."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from servebench.models import ModelSpec


def sample_batch(spec: ModelSpec, batch: int, seed: int = 0) -> np.ndarray:
    """A deterministic batch of standard-normal inputs, float32 little-endian, C-contiguous."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(spec.batch_shape(batch), dtype=np.float32).astype("<f4")


POOL_SIZE = 8  # distinct batches a load generator cycles through
POOL_SEED = 1000


def pool_inputs(spec: ModelSpec, batch: int, size: int = POOL_SIZE) -> list[np.ndarray]:
    """The batches every payload pool of ``spec`` holds, before encoding."""
    return [sample_batch(spec, batch, seed=POOL_SEED + index) for index in range(size)]


class PayloadPool:
    """Pre-encoded requests, cycled: all encoding happens once, before any load is sent."""

    def __init__(self, items: list) -> None:
        if not items:
            raise ValueError("a payload pool needs at least one item")
        self._items = items
        self._next = 0

    @classmethod
    def build(
        cls,
        spec: ModelSpec,
        encode: Callable[[np.ndarray], object],
        batch: int,
        size: int = POOL_SIZE,
    ) -> PayloadPool:
        """``size`` distinct batches of the model's input, each encoded by ``encode``."""
        return cls([encode(inputs) for inputs in pool_inputs(spec, batch, size)])

    def cursor(self) -> PayloadPool:
        """The same encoded items, cycled from the start by a new reader."""
        return PayloadPool(self._items)

    def next(self):
        item = self._items[self._next]
        self._next = (self._next + 1) % len(self._items)
        return item

    def __len__(self) -> int:
        return len(self._items)
