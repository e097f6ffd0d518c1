"""Which model version gave a reply: during a rollout two versions answer, and each reply is
matched against what each version gives for the payload pool's inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from servebench.export.parity import TOLERANCE


class AnswerKey:
    """Per model version, its outputs for each batch of the payload pool."""

    def __init__(self, outputs: dict[int, list[np.ndarray]]) -> None:
        self.outputs = outputs

    @classmethod
    def load(cls, path: Path) -> AnswerKey:
        with np.load(path) as saved:
            return cls({int(version): list(saved[version]) for version in saved.files})

    def save(self, path: Path) -> None:
        np.savez(path, **{str(version): np.stack(out) for version, out in self.outputs.items()})

    def version(self, logits: np.ndarray) -> int | None:
        """The version whose output ``logits`` is (within the parity tolerance), or None."""
        for version, outputs in self.outputs.items():
            for expected in outputs:
                if expected.shape == logits.shape and np.allclose(
                    logits, expected, rtol=0, atol=TOLERANCE
                ):
                    return version
        return None
