"""Bring your own model: `export --model-file` on an architecture servebench does not ship, then
served, measured and reported like the reference models; and every way the user's input can
be refused."""

import json
import zipfile

import numpy as np
import pytest
import tensorflow as tf
import torch

from servebench import cli
from servebench.export.layout import ArtifactLayout
from servebench.export.savedmodel import SIGNATURE, load_savedmodel
from servebench.models import get_model

from .conftest import REPO, bench, run_cli

SMALL_CNN = REPO / "examples" / "smallcnn.py"  # the README's example

NOT_A_MODULE = """
class Helper:
    pass
"""

# A custom ONNX operator, as a user's own symbolic function writes one: torch exports it, and
# onnx2tf has no conversion for it.
CUSTOM_OPERATOR = """
import torch
from torch import nn


class Frobnicate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def symbolic(g, x):
        return g.op("servebench_test::Frobnicate", x)


class Frob(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(Frobnicate.apply(x))
"""

SHAPE = "3,32,32"


def trained_like_state(module_file) -> dict:
    """SmallCNN's weights with BatchNorm statistics away from the identity, as training leaves
    them, so a conversion that dropped BatchNorm would fail parity."""
    namespace: dict = {}
    exec(compile(module_file.read_text(), str(module_file), "exec"), namespace)
    torch.manual_seed(7)
    model = namespace["SmallCNN"]()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean = 0.2 * torch.randn(module.num_features)
            module.running_var = 0.5 + torch.rand(module.num_features)
            module.weight.data = 0.5 + torch.rand(module.num_features)
    return model.state_dict()


@pytest.fixture(scope="module")
def user_model(tmp_path_factory):
    """SmallCNN written by the test, with its weights, exported by the real command."""
    folder = tmp_path_factory.mktemp("user-model")
    module_file = SMALL_CNN
    weights = folder / "smallcnn-weights.pt"
    torch.save(trained_like_state(module_file), weights)
    layout = ArtifactLayout(folder / "artifacts")
    # The README's command (the name and the class found from the file), with weights and --out
    result = run_cli("export", "--model-file", str(module_file), "--input-shape", SHAPE,
                     "--weights", str(weights), "--out", str(layout.root))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return {"folder": folder, "file": module_file, "weights": weights, "layout": layout,
            "stdout": result.stdout}  # fmt: skip


def test_export_writes_three_artifacts_that_match_torch(user_model):
    layout = user_model["layout"]
    manifest = json.loads(layout.manifest("smallcnn").read_text())
    compared = {case["candidate"] for case in manifest["parity"]}
    assert compared == {
        "tf-savedmodel (in-process)", "torchserve-handler (.mar)", "onnxruntime (.onnx, diy)"
    }  # fmt: skip
    assert len(manifest["parity"]) == 6
    for case in manifest["parity"]:
        assert case["passed"] and case["max_abs_diff"] <= 1e-4 == case["tolerance"], case
    assert manifest["user_model"]["class"] == "SmallCNN"
    assert manifest["versions"]["onnx2tf"] == "1.29.24"
    assert manifest["output"]["shape"] == [-1, 10]  # found by running the model
    spec = get_model("smallcnn", layout.root)
    assert (spec.input_shape, spec.num_outputs, spec.class_name) == ((3, 32, 32), 10, "SmallCNN")
    with zipfile.ZipFile(layout.mar("smallcnn")) as archive:
        config = json.loads(archive.read("servebench_model.json"))
        assert archive.read("smallcnn.py") == SMALL_CNN.read_bytes()
    assert config["class"] == "SmallCNN" and config["definitions"] == "smallcnn.py"


def test_savedmodel_keeps_the_torch_layout_and_the_in_graph_checks(user_model):
    folder = user_model["layout"].savedmodel("smallcnn")
    signature = tf.saved_model.load(str(folder)).signatures[SIGNATURE]
    (spec,) = signature.structured_input_signature[1].values()
    assert spec.shape.as_list() == [None, 3, 32, 32]  # NCHW, as both servers receive it
    predict = load_savedmodel(get_model("smallcnn", user_model["layout"].root), folder)
    assert predict(np.zeros((2, 3, 32, 32), np.float32)).shape == (2, 10)
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch is above the maximum"):
        predict(np.zeros((65, 3, 32, 32), np.float32))
    poisoned = np.zeros((1, 3, 32, 32), np.float32)
    poisoned[0, 1, 2, 3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Infinity"):
        predict(poisoned)


def test_served_measured_and_reported(user_model):
    """up, endpoint parity, the bad-input matrix, bench and report, as the README shows."""
    layout, state_dir = user_model["layout"], user_model["folder"] / "state"
    up = run_cli("up", "--model", "smallcnn", "--artifacts", str(layout.root),
                 "--state-dir", str(state_dir))  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        parity = run_cli("parity", "--endpoints", "--state-dir", str(state_dir))
        assert parity.returncode == 0, parity.stdout + parity.stderr
        assert parity.stdout.count("smallcnn") == 8 and " NO " not in parity.stdout
        probe = run_cli("probe-bad-inputs", "--model", "smallcnn", "--state-dir", str(state_dir))
        assert probe.returncode == 0, probe.stdout + probe.stderr
        matrix = json.loads((state_dir / "bad-inputs.json").read_text())
        assert {case["model"] for case in matrix["results"]} == {"smallcnn"}
        assert all(case["ok_after"] and not case["problem"] for case in matrix["results"])
        run = bench({"state_dir": str(state_dir)}, user_model["folder"] / "results",
                    "--model", "smallcnn", "--duration", "2s", "--warmup", "1s",
                    "--repeat", "1", "--users", "2", "--no-limits",
                    "--targets", "torchserve-rest,tfserving-grpc")  # fmt: skip
    finally:
        run_cli("down", "--state-dir", str(state_dir))
    entries = run["results"]["targets"]
    assert {entry["target"] for entry in entries} == {"torchserve-rest", "tfserving-grpc"}
    for entry in entries:
        assert entry["model"] == "smallcnn" and entry["requests_logged"] > 0, entry
        assert entry["summary"]["error_ratio"]["max"] == 0, entry
    report = run_cli("report", str(run["dir"]))
    assert report.returncode == 0, report.stderr
    text = (run["dir"] / "report.md").read_text()
    for candidate in ("tf-savedmodel (in-process)", "torchserve-handler (.mar)",
                      "onnxruntime (.onnx, diy)"):  # fmt: skip
        assert f"| smallcnn | {candidate} |" in text
    assert "yours: SmallCNN from smallcnn.py" in text


def export_in_process(capsys, *args: str) -> tuple[int, str]:
    """`servebench export ...` in this process (torch is loaded already); (exit code, stderr)."""
    code = cli.main(["export", *args])
    return code, capsys.readouterr().err.strip()


def refused(capsys, *args: str) -> str:
    code, err = export_in_process(capsys, *args)
    assert code == 2, err
    assert "Traceback" not in err
    return err.splitlines()[-1]


def test_a_file_that_does_not_import(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\nclass Net(torch.nn.Module:\n    pass\n")
    line = refused(capsys, "--model-file", str(broken), "--input-shape", SHAPE,
                   "--out", str(tmp_path / "out"))  # fmt: skip
    assert "broken.py does not import" in line and "line 2" in line


def test_a_class_that_is_not_a_module(tmp_path, capsys):
    module_file = tmp_path / "helper.py"
    module_file.write_text(NOT_A_MODULE)
    line = refused(capsys, "--model-file", str(module_file), "--class", "Helper",
                   "--input-shape", SHAPE, "--out", str(tmp_path))  # fmt: skip
    assert "Helper" in line and "is not a torch.nn.Module" in line


def test_weights_that_do_not_fit(user_model, tmp_path, capsys):
    state = torch.load(user_model["weights"], weights_only=True)
    state["head.weight"] = torch.zeros(5, 16)  # 5 classes, not 10
    misfit = tmp_path / "misfit.pt"
    torch.save(state, misfit)
    line = refused(capsys, "--model-file", str(user_model["file"]), "--weights", str(misfit),
                   "--input-shape", SHAPE, "--out", str(tmp_path / "out"))  # fmt: skip
    assert "does not fit" in line and "head.weight is [5, 16], expected [10, 16]" in line


def test_an_input_shape_that_does_not_match(user_model, tmp_path, capsys):
    line = refused(capsys, "--model-file", str(user_model["file"]), "--input-shape", "32,32",
                   "--out", str(tmp_path))  # fmt: skip
    assert "does not accept input of shape [N,32,32]" in line and "--input-shape" in line


def test_an_operator_onnx2tf_cannot_convert(tmp_path, capsys):
    module_file = tmp_path / "frob.py"
    module_file.write_text(CUSTOM_OPERATOR)
    out = ArtifactLayout(tmp_path / "out")
    line = refused(capsys, "--model-file", str(module_file), "--input-shape", "4",
                   "--out", str(out.root))  # fmt: skip
    assert "onnx2tf cannot convert the operator(s) servebench_test::Frobnicate" in line
    assert not out.mar("frob").exists() and not out.onnx("frob").exists()  # nothing to serve


def test_parity_over_the_stated_tolerance_is_refused_and_removed(user_model, tmp_path, capsys):
    out = ArtifactLayout(tmp_path / "out")
    code, err = export_in_process(
        capsys, "--model-file", str(user_model["file"]), "--weights", str(user_model["weights"]),
        "--input-shape", SHAPE, "--atol", "1e-12", "--out", str(out.root),
    )  # fmt: skip
    assert code == 1, err
    assert "parity failed" in err and "NO (> 1e-12)" in err and "will not be served" in err
    assert not out.mar("smallcnn").exists()
    assert not (out.savedmodel("smallcnn") / "saved_model.pb").exists()
    assert not out.manifest("smallcnn").exists()
    assert run_cli("up", "--model", "smallcnn", "--artifacts", str(out.root),
                   "--state-dir", str(tmp_path / "state")).returncode == 2  # fmt: skip


def test_a_model_file_needs_its_input_shape(user_model, tmp_path, capsys):
    line = refused(capsys, "--model-file", str(user_model["file"]), "--out", str(tmp_path))
    assert "--input-shape" in line
