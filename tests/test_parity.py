import json

import numpy as np
import pytest
import torch

from servebench.export.exporter import artifact_parity, torch_predict
from servebench.export.parity import TOLERANCE, compare
from servebench.export.savedmodel import load_savedmodel
from servebench.models import MODELS
from servebench.models.weights import load_state


@pytest.mark.parametrize("name", MODELS)
def test_artifacts_compute_the_same_function(artifacts, name):
    cases = artifact_parity(MODELS[name], artifacts)
    compared = {(case.candidate, case.batch) for case in cases}
    assert compared == {
        ("tf-savedmodel (in-process)", 1),
        ("tf-savedmodel (in-process)", 8),
        ("torchserve-handler (.mar)", 1),
        ("torchserve-handler (.mar)", 8),
        ("onnxruntime (.onnx, diy)", 1),
        ("onnxruntime (.onnx, diy)", 8),
    }
    for case in cases:
        assert case.max_abs_diff < TOLERANCE, case
    tf_cases = [case for case in cases if case.candidate.startswith("tf")]
    # the two frameworks sum in different orders: equal to float32 rounding, not bit for bit
    assert all(0 < case.max_abs_diff < 1e-5 for case in tf_cases)


@pytest.mark.parametrize("name", MODELS)
def test_manifest_records_the_parity_that_export_measured(artifacts, name):
    manifest = json.loads(artifacts.manifest(name).read_text())
    assert len(manifest["parity"]) == 6  # SavedModel, .mar and ONNX, at batch 1 and 8
    assert all(case["passed"] and case["max_abs_diff"] < TOLERANCE for case in manifest["parity"])


@pytest.mark.parametrize("name", MODELS)
def test_parity_catches_one_changed_weight(artifacts, name):
    spec = MODELS[name]
    state = load_state(MODELS[name], artifacts.weights(name))
    last_bias = [key for key in state if key.endswith("bias")][-1]
    state[last_bias] = state[last_bias] + torch.full_like(state[last_bias], 1e-3)
    cases = compare(
        spec, torch_predict(spec, state), load_savedmodel(spec, artifacts.savedmodel(name)), "tf"
    )
    assert all(not case.passed for case in cases)
    assert all(np.isclose(case.max_abs_diff, 1e-3, rtol=1e-2) for case in cases)
