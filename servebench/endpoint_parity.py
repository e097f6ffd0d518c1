"""Parity through the wire: the same inputs through every endpoint of a running stack (the four
compared ones, and the diy baseline's when it runs)."""

from __future__ import annotations

from servebench.clients import make_client, stack_targets
from servebench.export.exporter import torch_predict
from servebench.export.layout import ArtifactLayout
from servebench.export.parity import ParityCase, compare
from servebench.models.weights import load_state
from servebench.stack import stack_models
from servebench.stack_record import Stack
from servebench.target import Target


def endpoint_parity(stack: dict) -> list[ParityCase]:
    """Each endpoint vs in-process torch on the exported weights, batch 1 and 8."""
    stack = Stack(stack)
    layout = ArtifactLayout(stack.artifacts)
    cases = []
    for spec in stack_models(stack):
        reference = torch_predict(spec, load_state(spec, layout.weights(spec.name)))
        for target in stack_targets(stack):
            implementation = stack.backends[Target.parse(target).server]["implementation"]
            with make_client(target, stack, spec) as client:
                cases += compare(spec, reference, client.predict, f"{target} [{implementation}]")
    return cases
