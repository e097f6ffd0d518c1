import json

import numpy as np
import pytest
import tensorflow as tf

from servebench.export.savedmodel import SIGNATURE, load_savedmodel
from servebench.models import DEFAULT_MAX_BATCH, MODELS
from servebench.models.weights import seeded_state, state_sha256
from servebench.payloads import sample_batch

from .conftest import run_cli


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_gives_same_weights(name):
    assert state_sha256(seeded_state(MODELS[name], 3)) == state_sha256(
        seeded_state(MODELS[name], 3)
    )
    assert state_sha256(seeded_state(MODELS[name], 3)) != state_sha256(
        seeded_state(MODELS[name], 4)
    )


def test_batchnorm_statistics_are_randomised():
    state = seeded_state(MODELS["resnet18"], 0)
    assert state["bn1.running_mean"].abs().max() > 0.01
    assert (state["bn1.running_var"] - 1).abs().max() > 0.01


def test_export_is_reproducible_from_the_command_line(tmp_path):
    hashes = []
    for run in ("a", "b"):
        result = run_cli("export", "--model", "mlp", "--out", str(tmp_path / run))
        assert result.returncode == 0, result.stderr
        manifest = json.loads((tmp_path / run / "mlp" / "manifest.json").read_text())
        hashes.append(manifest["weights_sha256"])
    assert hashes[0] == hashes[1]
    assert "max abs diff" in result.stdout


@pytest.mark.parametrize("name", MODELS)
def test_manifest_describes_the_artifacts(artifacts, name):
    spec = MODELS[name]
    manifest = json.loads(artifacts.manifest(name).read_text())
    assert manifest["model"] == name
    assert manifest["input"] == {
        "name": "input",
        "shape": [-1, *spec.input_shape],
        "dtype": "float32",
    }
    assert manifest["output"]["shape"] == [-1, spec.num_outputs]
    assert manifest["weights_sha256"] == state_sha256(seeded_state(MODELS[name], 0))
    assert manifest["versions"]["torch"].startswith("2.13.0")
    assert manifest["versions"]["tensorflow"] == "2.20.0"
    assert manifest["artifacts"]["torchserve_mar"]["bytes"] > 0
    assert (artifacts.savedmodel(name) / "saved_model.pb").is_file()
    assert artifacts.savedmodel(name).parent.name == name  # TF Serving's <base>/<model>/<version>


@pytest.mark.parametrize("name", MODELS)
def test_signature_takes_the_torch_layout(artifacts, name):
    spec = MODELS[name]
    signature = tf.saved_model.load(str(artifacts.savedmodel(name))).signatures[SIGNATURE]
    (input_spec,) = signature.structured_input_signature[1].values()
    assert input_spec.shape.as_list() == [None, *spec.input_shape]
    assert input_spec.dtype == tf.float32
    assert list(signature.structured_outputs) == ["logits"]


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (
            lambda batch: np.where(np.arange(batch.size).reshape(batch.shape) == 5, np.nan, batch),
            "NaN or Infinity",
        ),
        (lambda batch: np.full_like(batch, np.inf), "NaN or Infinity"),
    ],
)
def test_signature_rejects_non_finite_input(artifacts, corrupt, message):
    predict = load_savedmodel(MODELS["mlp"], artifacts.savedmodel("mlp"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        predict(corrupt(sample_batch(MODELS["mlp"], 2)).astype(np.float32))


def test_signature_rejects_a_batch_above_the_maximum(artifacts):
    predict = load_savedmodel(MODELS["mlp"], artifacts.savedmodel("mlp"))
    assert predict(sample_batch(MODELS["mlp"], DEFAULT_MAX_BATCH)).shape == (64, 10)
    with pytest.raises(tf.errors.InvalidArgumentError, match="above the maximum.*N <= 64"):
        predict(sample_batch(MODELS["mlp"], DEFAULT_MAX_BATCH + 1))


def test_a_second_export_of_the_same_model_keeps_the_artifacts(tmp_path):
    """Compose runs the export on every `up`: artifacts that match are left as they are."""
    from servebench.export.exporter import export_model
    from servebench.export.layout import ArtifactLayout

    layout, said = ArtifactLayout(tmp_path), []
    state = seeded_state(MODELS["mlp"], 0)
    export_model(MODELS["mlp"], state, layout, DEFAULT_MAX_BATCH, said.append)
    files = [layout.mar("mlp"), layout.savedmodel("mlp") / "saved_model.pb", layout.weights("mlp")]
    before = [(path.stat().st_ino, path.stat().st_mtime_ns) for path in files]
    export_model(MODELS["mlp"], state, layout, DEFAULT_MAX_BATCH, said.append)
    assert [(path.stat().st_ino, path.stat().st_mtime_ns) for path in files] == before
    assert "up to date" in said[-1]


def test_a_changed_export_swaps_the_version_in_without_a_gap(tmp_path):
    """A server watching the model folder never sees version 1 vanish or half-written."""
    import threading

    from servebench.export.exporter import export_model
    from servebench.export.layout import ArtifactLayout

    layout = ArtifactLayout(tmp_path)
    export_model(
        MODELS["mlp"], seeded_state(MODELS["mlp"], 0), layout, DEFAULT_MAX_BATCH, lambda _: None
    )
    version = layout.savedmodel("mlp")
    variables = version / "variables" / "variables.data-00000-of-00001"
    first = variables.read_bytes()
    gaps, done, polls = [], threading.Event(), [0]

    def watch():
        while not done.is_set():
            polls[0] += 1
            if not (version / "saved_model.pb").is_file():
                gaps.append(sorted(p.name for p in version.parent.iterdir()))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        export_model(
            MODELS["mlp"], seeded_state(MODELS["mlp"], 1), layout, DEFAULT_MAX_BATCH, lambda _: None
        )
    finally:
        done.set()
        watcher.join()
    assert polls[0] > 100 and not gaps, gaps[:3]
    assert variables.read_bytes() != first  # the new weights are in place
    # Nothing but the numbered version is left beside it: the staging folders are gone.
    assert sorted(p.name for p in version.parent.iterdir()) == ["1"]
    assert sorted(p.name for p in layout.model_store.iterdir()) == ["mlp.mar"]


def test_an_interrupted_export_leaves_the_version_before_it_as_it_was(tmp_path, monkeypatch):
    """Ctrl-C while a served version is exported again takes nothing from the servers, nor
    leaves them a mix of the two exports."""
    from servebench.export import exporter
    from servebench.export.layout import ArtifactLayout

    layout, spec = ArtifactLayout(tmp_path), MODELS["mlp"]
    exporter.export_model(spec, seeded_state(spec, 0), layout, DEFAULT_MAX_BATCH, lambda _: None)
    variables = layout.savedmodel("mlp") / "variables" / "variables.data-00000-of-00001"
    files = [layout.weights("mlp"), layout.mar("mlp"), layout.onnx("mlp"), variables,
             layout.manifest("mlp")]  # fmt: skip
    before = [path.read_bytes() for path in files]

    def interrupted(*_):  # the last step: every new artifact has been written by now
        raise KeyboardInterrupt

    monkeypatch.setattr(exporter, "artifact_parity", interrupted)
    with pytest.raises(KeyboardInterrupt):
        exporter.export_model(
            spec, seeded_state(spec, 1), layout, DEFAULT_MAX_BATCH, lambda _: None
        )
    assert [path.read_bytes() for path in files] == before
    assert not list(tmp_path.glob(".staging-*"))  # the scratch folder went with the interrupt
