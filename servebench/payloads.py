"""The input pool: the same float32 tensors for parity checks, clients and load generators."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from servebench.models import ModelSpec


def sample_batch(spec: ModelSpec, batch: int, seed: int = 0) -> np.ndarray:
    """A deterministic batch of standard-normal inputs, float32 little-endian, C-contiguous."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(spec.batch_shape(batch), dtype=np.float32).astype("<f4")


class PayloadPool:
    """Pre-encoded requests, cycled: all encoding happens once, before any load is sent."""

    def __init__(self, items: list) -> None:
        if not items:
            raise ValueError("a payload pool needs at least one item")
        self._items = items
        self._next = 0

    @classmethod
    def build(
        cls, spec: ModelSpec, encode: Callable[[np.ndarray], object], batch: int, size: int = 8
    ) -> PayloadPool:
        """``size`` distinct batches of the model's input, each encoded by ``encode``."""
        return cls([encode(sample_batch(spec, batch, seed=1000 + index)) for index in range(size)])

    def cursor(self) -> PayloadPool:
        """The same encoded items, cycled from the start by a new reader."""
        return PayloadPool(self._items)

    def next(self):
        item = self._items[self._next]
        self._next = (self._next + 1) % len(self._items)
        return item

    def __len__(self) -> int:
        return len(self._items)
