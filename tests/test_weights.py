import json

import pytest
import torch

from servebench.errors import UsageError
from servebench.models import MODELS, torch_defs
from servebench.models.weights import load_state, seeded_state, state_sha256

from .conftest import run_cli


def test_weights_round_trip_through_export(tmp_path):
    model = torch_defs.build("mlp")
    torch.manual_seed(42)
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.05)
    weights = tmp_path / "mine.pt"
    torch.save(model.state_dict(), weights)

    result = run_cli(
        "export", "--model", "mlp", "--weights", str(weights), "--out", str(tmp_path / "out")
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "mlp" / "manifest.json").read_text())
    assert manifest["weights_sha256"] == state_sha256(model.state_dict())
    assert manifest["weights_sha256"] != state_sha256(seeded_state(MODELS["mlp"], 0))
    assert all(case["passed"] for case in manifest["parity"])


def test_wrong_architecture_names_the_keys(tmp_path):
    weights = tmp_path / "mlp.pt"
    torch.save(seeded_state(MODELS["mlp"], 0), weights)
    with pytest.raises(UsageError, match=r"missing keys: conv1\.weight.*unexpected keys: fc1"):
        load_state(MODELS["resnet18"], weights)


def test_wrong_shape_names_the_tensor(tmp_path):
    state = seeded_state(MODELS["mlp"], 0)
    state["fc3.weight"] = torch.zeros(11, 256)
    weights = tmp_path / "wide.pt"
    torch.save(state, weights)
    with pytest.raises(UsageError, match=r"fc3\.weight is \[11, 256\], expected \[10, 256\]"):
        load_state(MODELS["mlp"], weights)


def test_checkpoint_wrapping_a_state_dict_is_accepted(tmp_path):
    weights = tmp_path / "checkpoint.pt"
    torch.save({"state_dict": seeded_state(MODELS["mlp"], 5), "epoch": 3}, weights)
    assert state_sha256(load_state(MODELS["mlp"], weights)) == state_sha256(
        seeded_state(MODELS["mlp"], 5)
    )
