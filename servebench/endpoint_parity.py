"""Parity through the wire: the same inputs through every endpoint of a running stack (the four
compared ones, and the diy baseline's when it runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from servebench.clients import make_client, stack_targets
from servebench.export.exporter import torch_predict
from servebench.export.layout import ArtifactLayout
from servebench.export.parity import ParityCase, compare
from servebench.models.weights import load_state
from servebench.stack import stack_models
from servebench.stack_record import Stack
from servebench.target import Target


def endpoint_parity(stack: dict, models: Iterable[str] | None = None) -> list[ParityCase]:
    """Each endpoint vs in-process torch on the exported weights, batch 1 and 8: for every
    model the stack serves, or for those of ``models`` it serves."""
    stack = Stack(stack)
    layout = ArtifactLayout(stack.artifacts)
    cases = []
    for spec in stack_models(stack):
        if models is not None and spec.name not in models:
            continue
        reference = _once_per_input(
            torch_predict(spec, load_state(spec, layout.weights(spec.name)))
        )
        for target in stack_targets(stack):
            implementation = stack.backends[Target.parse(target).server]["implementation"]
            with make_client(target, stack, spec) as client:
                cases += compare(spec, reference, client.predict, f"{target} [{implementation}]")
    return cases


def _once_per_input(predict: Callable[[np.ndarray], np.ndarray]) -> Callable:
    """``predict``, computed once per distinct input: every endpoint gets the same inputs, so
    the in-process reference (seconds for resnet18's batch of 8) need not run per endpoint."""
    answers: dict[tuple, np.ndarray] = {}

    def cached(batch: np.ndarray) -> np.ndarray:
        key = (batch.shape, batch.dtype.str, batch.tobytes())
        if key not in answers:
            answers[key] = predict(batch)
        return answers[key]

    return cached
