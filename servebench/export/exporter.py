"""Artifacts: from one set of PyTorch weights, a TorchServe .mar, a TF SavedModel and an ONNX
model (for the diy baseline), checked. Artifacts that fail parity are removed, never served."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import torch

from servebench.errors import CheckFailed, UsageError
from servebench.export.layout import FIRST_VERSION, ArtifactLayout
from servebench.export.parity import ParityCase, compare, format_cases
from servebench.models import ModelSpec
from servebench.models.custom import build_module
from servebench.models.weights import StateDict, load_state, state_sha256, to_numpy

MANIFEST_SCHEMA = 1
VERSIONED_PACKAGES = (
    "torch", "tensorflow", "torchserve", "torch-model-archiver", "numpy", "onnx", "onnxruntime"
)  # fmt: skip

Progress = Callable[[str], None]


def ensure_writable(folder: Path, option: str = "--out") -> None:
    """Fail early, with the fix, when ``folder``, given with ``option``, cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot write to {folder} ({exc.strerror or exc}); "
            f"pass a writable folder with {option}"
        ) from None


def export_model(
    spec: ModelSpec,
    state: StateDict,
    layout: ArtifactLayout,
    max_batch: int,
    progress: Progress = print,
    version: int = FIRST_VERSION,
) -> dict:
    """Write the artifacts and the manifest of model version ``version`` of ``spec``; return
    the manifest. Artifacts that already match (same weights, settings, code and package
    versions) are kept as they are, so servers reading them are left alone; others are built
    beside them and moved in only once whole and checked."""
    fingerprint = _fingerprint(spec, state, max_batch)
    current = _matching_manifest(spec, layout, fingerprint, version)
    label = spec.name if version == FIRST_VERSION else f"{spec.name} v{version}"
    if current is not None:
        progress(f"[{label}] artifacts up to date (fingerprint {fingerprint[:12]}); kept")
        return current
    timings = {}
    try:
        cases = _build_and_move_in(spec, state, layout, max_batch, version, label, timings,
                                   progress)  # fmt: skip
    except Exception:
        # A version whose export failed is not served, nor are its earlier files (a user's
        # model is registered anew before the export). An interrupt is not a failure: Ctrl-C
        # leaves the version that was there as it was.
        _remove_artifacts(layout, spec.name, version)
        raise
    weights, mar = layout.weights(spec.name, version), layout.mar(spec.name, version)
    savedmodel, onnx = layout.savedmodel(spec.name, version), layout.onnx(spec.name, version)
    manifest = _manifest(spec, state, weights, max_batch, cases, timings)
    manifest["fingerprint"] = fingerprint
    manifest["model_version"] = version
    manifest["artifacts"] = {
        "torchserve_mar": {"path": str(mar), "bytes": mar.stat().st_size},
        "tf_savedmodel": {"path": str(savedmodel), "bytes": _folder_bytes(savedmodel)},
        "onnx": {"path": str(onnx), "bytes": onnx.stat().st_size},
    }
    staged = layout.manifest(spec.name, version).with_suffix(".json.tmp")
    staged.write_text(json.dumps(manifest, indent=2) + "\n")
    staged.replace(layout.manifest(spec.name, version))  # the manifest is written last, and whole
    return manifest


def _build_and_move_in(spec, state, layout, max_batch, version, label, timings, progress):
    """Build the version whole in a scratch folder beside the served ones, check it there, and
    only then move it in; return the parity cases. Until the move, an export that stops leaves
    what was served before untouched."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=layout.root) as scratch:
        staged = ArtifactLayout(Path(scratch))
        staged.model_dir(spec.name, version).mkdir(parents=True)
        torch.save(state, staged.weights(spec.name, version))
        cases = _build(spec, state, staged, max_batch, version, label, timings, progress)
        _move_in(staged, layout, spec.name, version)
    return cases


def _move_in(staged: ArtifactLayout, layout: ArtifactLayout, name: str, version: int) -> None:
    """Rename each staged artifact over the one it replaces, in one step each."""
    from servebench.export.savedmodel import replace_folder

    # No manifest while the files are a mix of two exports: the next export then rebuilds them
    # instead of finding the old manifest and calling them up to date.
    layout.manifest(name, version).unlink(missing_ok=True)
    for artifact in (ArtifactLayout.weights, ArtifactLayout.onnx, ArtifactLayout.mar):
        target = artifact(layout, name, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(artifact(staged, name, version), target)
    target = layout.savedmodel(name, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_folder(staged.savedmodel(name, version), target)  # the old one: removed with scratch


def _build(spec, state, layout, max_batch, version, label, timings, progress):
    """Write the .mar, the ONNX model and the SavedModel, and compare each with torch; a
    comparison over the tolerance is a CheckFailed that shows them all."""
    from servebench.export.onnx_model import write_onnx
    from servebench.export.savedmodel import write_savedmodel
    from servebench.export.torchserve import write_mar

    weights = layout.weights(spec.name, version)
    with _timed(timings, "torchserve_mar", progress, f"[{label}] TorchServe archive"):
        write_mar(spec, weights, layout.mar(spec.name, version), max_batch, version)
    with _timed(timings, "onnx", progress, f"[{label}] ONNX model (diy baseline)"):
        onnx = write_onnx(spec, state, layout.onnx(spec.name, version))
    how = " (onnx2tf from the ONNX model)" if spec.definition else ""
    with (
        _timed(timings, "tf_savedmodel", progress, f"[{label}] TF SavedModel{how}"),
        tempfile.TemporaryDirectory(prefix="servebench-converted-") as workdir,
    ):
        tf_model = _tf_model(spec, state, onnx, Path(workdir), progress)
        write_savedmodel(spec, tf_model, layout.savedmodel(spec.name, version), max_batch)
    with _timed(timings, "parity", progress, f"[{label}] parity through every artifact"):
        cases = artifact_parity(spec, layout, version)
    failed = [case for case in cases if not case.passed]
    if failed:
        raise CheckFailed(
            f"parity failed\n{format_cases(cases)}\n{len(failed)} of {len(cases)} comparisons "
            f"are over {spec.atol:g}: {label}'s artifacts were removed and will not be served"
        )
    return cases


def _tf_model(spec: ModelSpec, state: StateDict, onnx: Path, workdir: Path, progress: Progress):
    """What the SavedModel serves: the reference model's twin, or a user's model converted from
    its ONNX file by onnx2tf."""
    from servebench.export.savedmodel import ConvertedModel, twin_of

    if spec.definition is None:
        return twin_of(spec, to_numpy(state))
    from servebench.export.converter import convert

    return ConvertedModel(convert(onnx, workdir / "converted", spec.input_name, progress),
                          spec.input_name)  # fmt: skip


def _remove_artifacts(layout: ArtifactLayout, name: str, version: int) -> None:
    shutil.rmtree(layout.savedmodel(name, version), ignore_errors=True)
    for path in (
        layout.mar(name, version),
        layout.onnx(name, version),
        layout.manifest(name, version),
    ):
        path.unlink(missing_ok=True)


# The files that decide what the artifacts contain, besides the weights and the settings.
RECIPE = (
    "models/torch_defs.py",
    "models/tf_twins.py",
    "export/savedmodel.py",
    "export/torchserve.py",
    "export/onnx_model.py",
    "export/converter.py",
)


def _fingerprint(spec: ModelSpec, state: StateDict, max_batch: int) -> str:
    from servebench.export.torchserve import HANDLER

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    sources = [HANDLER, *(package / name for name in RECIPE)]
    for source in sources + ([spec.definition] if spec.definition else []):
        digest.update(source.read_bytes())
    versions = _package_versions(spec)
    interface = [list(spec.input_shape), spec.class_name, spec.atol]
    digest.update(json.dumps([state_sha256(state), max_batch, versions, interface]).encode())
    return digest.hexdigest()


def _package_versions(spec: ModelSpec) -> dict[str, str]:
    versions = {name: metadata.version(name) for name in VERSIONED_PACKAGES}
    if spec.definition:
        from servebench.export.converter import converter_version

        versions["onnx2tf"] = converter_version()
    return versions


def _matching_manifest(
    spec: ModelSpec, layout: ArtifactLayout, fingerprint: str, version: int
) -> dict | None:
    """The manifest of artifacts on disk made from the same fingerprint, or None."""
    try:
        manifest = json.loads(layout.manifest(spec.name, version).read_text())
    except (OSError, ValueError):
        return None
    artifacts = (
        layout.mar(spec.name, version),
        layout.savedmodel(spec.name, version) / "saved_model.pb",
        layout.onnx(spec.name, version),
    )
    present = all(path.exists() for path in artifacts)
    return manifest if present and manifest.get("fingerprint") == fingerprint else None


def artifact_parity(
    spec: ModelSpec, layout: ArtifactLayout, version: int = FIRST_VERSION
) -> list[ParityCase]:
    """In-process torch (the exported weights) vs the SavedModel, the .mar and the ONNX model,
    read from disk."""
    from servebench.export.onnx_model import load_onnx
    from servebench.export.savedmodel import load_savedmodel
    from servebench.export.torchserve import load_mar

    weights, mar = layout.weights(spec.name, version), layout.mar(spec.name, version)
    savedmodel, onnx = layout.savedmodel(spec.name, version), layout.onnx(spec.name, version)
    for path in (weights, mar, savedmodel, onnx):
        if not path.exists():
            again = "" if version == FIRST_VERSION else f" --version {version}"
            raise UsageError(
                f"{path} is missing; run `servebench export --model {spec.name}{again} "
                f"--out {layout.root}` first"
            )
    reference = torch_predict(spec, load_state(spec, weights))
    cases = compare(
        spec, reference, load_savedmodel(spec, savedmodel), "tf-savedmodel (in-process)"
    )
    with tempfile.TemporaryDirectory(prefix="servebench-mar-") as workdir:
        handler = load_mar(mar, Path(workdir))
        cases += compare(spec, reference, handler, "torchserve-handler (.mar)")
    return cases + compare(spec, reference, load_onnx(spec, onnx), "onnxruntime (.onnx, diy)")


def torch_predict(spec: ModelSpec, state: StateDict) -> Callable:
    model = build_module(spec)
    model.load_state_dict(state)

    def predict(batch):
        with torch.inference_mode():
            return model(torch.from_numpy(batch)).numpy()

    return predict


def _manifest(spec, state, weights: Path, max_batch, cases, timings) -> dict:
    return {
        "schema_version": MANIFEST_SCHEMA,
        "model": spec.name,
        "input": {"name": spec.input_name, "shape": [-1, *spec.input_shape], "dtype": "float32"},
        "output": {"name": spec.output_name, "shape": [-1, spec.num_outputs], "dtype": "float32"},
        "max_batch": max_batch,
        "weights_sha256": state_sha256(state),
        "weights_file": str(weights),
        "versions": {"python": platform.python_version()} | _package_versions(spec),
        "parity": [case.as_dict() for case in cases],
        "export_seconds": timings,
    } | ({"user_model": _user_model_facts(spec)} if spec.definition else {})


def _user_model_facts(spec: ModelSpec) -> dict:
    from servebench.export.converter import converter_version

    return {
        "definition": spec.definition.name,
        "class": spec.class_name,
        "tf_savedmodel": f"converted from the ONNX model by onnx2tf {converter_version()}",
        "parity_tolerance": spec.atol,
    }


class _timed:
    """Times one export step into ``timings`` and reports it through ``progress``."""

    def __init__(self, timings: dict, key: str, progress: Progress, label: str) -> None:
        self.timings, self.key, self.progress, self.label = timings, key, progress, label

    def __enter__(self) -> None:
        self.progress(f"{self.label} ...")
        self.start = time.perf_counter()

    def __exit__(self, *exc_info) -> None:
        self.timings[self.key] = round(time.perf_counter() - self.start, 2)
        if exc_info[0] is None:
            self.progress(f"{self.label} done in {self.timings[self.key]:.1f} s")


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
