"""Parity: the same inputs through two implementations of one model, and how far apart they are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from servebench.models import DEFAULT_ATOL, ModelSpec
from servebench.payloads import sample_batch

TOLERANCE = DEFAULT_ATOL  # unless the model states its own (export --model-file --atol)
PARITY_BATCHES = (1, 8)

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ParityCase:
    model: str
    candidate: str  # what was compared with the reference, e.g. "tf-savedmodel"
    batch: int
    max_abs_diff: float
    max_rel_diff: float  # max abs diff divided by the largest |reference logit|
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def compare(
    spec: ModelSpec, reference: Predict, candidate: Predict, candidate_name: str
) -> list[ParityCase]:
    """Run batch 1 and batch 8 through both; the reference is the PyTorch model."""
    cases = []
    for batch in PARITY_BATCHES:
        inputs = sample_batch(spec, batch, seed=batch)
        expected = np.asarray(reference(inputs), dtype=np.float64)
        actual = np.asarray(candidate(inputs), dtype=np.float64)
        if actual.shape != expected.shape:
            raise ValueError(
                f"{candidate_name} returned shape {actual.shape}, expected {expected.shape}"
            )
        diff = float(np.max(np.abs(actual - expected)))
        scale = float(np.max(np.abs(expected))) or 1.0
        cases.append(ParityCase(spec.name, candidate_name, batch, diff, diff / scale, spec.atol))
    return cases


def format_cases(cases: list[ParityCase]) -> str:
    width = max([len("compared"), *(len(case.candidate) for case in cases)])
    lines = [
        f"{'model':<9} {'compared':<{width}} {'batch':>5} {'max abs diff':>13} {'max rel':>10}  ok"
    ]
    for case in cases:
        verdict = "yes" if case.passed else f"NO (> {case.tolerance:g})"
        lines.append(
            f"{case.model:<9} {case.candidate:<{width}} {case.batch:>5} "
            f"{case.max_abs_diff:>13.3e} {case.max_rel_diff:>10.3e}  {verdict}"
        )
    return "\n".join(lines)
