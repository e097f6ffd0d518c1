"""User mistakes at the command line: one line saying what to do, exit 2, no traceback."""

import re

import pytest

from .conftest import run_cli


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_model():
    result = run_cli("export", "--model", "vgg16")
    assert_one_line_error(result, "unknown model 'vgg16'", "resnet18", "--model-file")


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("export", "--model", "mlp", "--out", str(blocker / "artifacts"))
    assert_one_line_error(result, "cannot write to", "--out")


def test_corrupt_weights_file(tmp_path):
    weights = tmp_path / "broken.pt"
    weights.write_bytes(b"PK\x03\x04 not really a zip")
    result = run_cli("export", "--model", "mlp", "--weights", str(weights), "--out", str(tmp_path))
    assert_one_line_error(result, "cannot read", "torch.save(model.state_dict(), path)")


@pytest.mark.parametrize("text", ["hello\n", "vm\n"])  # "v" is also a pickle opcode
def test_a_text_file_as_weights(tmp_path, text):
    weights = tmp_path / "some.txt"
    weights.write_text(text)
    result = run_cli("export", "--model", "mlp", "--weights", str(weights), "--out", str(tmp_path))
    assert_one_line_error(result, "it is not a file that torch.save wrote")


def test_a_pickled_module_as_weights(tmp_path):
    import torch

    weights = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), weights)
    result = run_cli("export", "--model", "mlp", "--weights", str(weights), "--out", str(tmp_path))
    assert_one_line_error(result, "holds pickled Python objects", "model.state_dict()")
    assert "\x1b[" not in result.stderr  # no terminal colour codes


def test_report_takes_the_results_file_too(tmp_path):
    result = run_cli("report", str(tmp_path / "run" / "results.json"))
    assert_one_line_error(result, f"{tmp_path / 'run'} has no results.json")


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and re.fullmatch(r"servebench \d+\.\d+\.\d+\n", result.stdout)


def test_missing_weights_file(tmp_path):
    result = run_cli("export", "--model", "mlp", "--weights", str(tmp_path / "nope.pt"))
    assert_one_line_error(result, "does not exist")


def test_weights_of_another_architecture(tmp_path):
    import torch

    from servebench.models import MODELS
    from servebench.models.weights import seeded_state

    weights = tmp_path / "mlp.pt"
    torch.save(seeded_state(MODELS["mlp"], 0), weights)
    result = run_cli(
        "export", "--model", "resnet18", "--weights", str(weights), "--out", str(tmp_path / "out")
    )
    assert_one_line_error(result, "does not fit the resnet18 architecture", "missing keys")


def test_parity_without_artifacts_says_to_export(tmp_path):
    result = run_cli("parity", "--model", "mlp", "--artifacts", str(tmp_path))
    assert_one_line_error(result, "servebench export --model mlp")


@pytest.mark.parametrize("args", [["parity", "--model", "resnet18"], ["parity", "--model", "all"]])
def test_parity_command_passes_on_exported_artifacts(artifacts, args):
    result = run_cli(*args, "--artifacts", str(artifacts.root))
    assert result.returncode == 0, result.stderr
    diffs = [float(value) for value in re.findall(r"\s(\d\.\d{3}e[-+]\d\d)\s", result.stdout)]
    assert len(diffs) >= 8  # abs and rel for 4 cases per model
    assert max(diffs) < 1e-4


def test_parity_exits_1_when_weights_and_savedmodel_disagree(artifacts, tmp_path):
    import shutil

    import torch

    from servebench.export.layout import ArtifactLayout

    copy = ArtifactLayout(tmp_path / "copy")
    shutil.copytree(artifacts.root, copy.root)
    state = torch.load(copy.weights("mlp"), weights_only=True)
    state["fc3.bias"] += 0.01
    torch.save(state, copy.weights("mlp"))
    result = run_cli("parity", "--model", "mlp", "--artifacts", str(copy.root))
    assert result.returncode == 1
    assert "parity failed: mlp via tf-savedmodel" in result.stderr
    assert "Traceback" not in result.stderr
