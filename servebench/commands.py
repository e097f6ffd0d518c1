"""What each CLI subcommand does, apart from parsing its arguments."""

from __future__ import annotations

from pathlib import Path

from servebench.errors import CheckFailed, UsageError
from servebench.export import artifact_parity, ensure_writable, export_model
from servebench.export.layout import ArtifactLayout
from servebench.export.parity import ParityCase, format_cases
from servebench.models import select_models
from servebench.models.weights import load_state, seeded_state


def export_command(model: str, out: Path, weights: Path | None, seed: int, max_batch: int) -> int:
    specs = select_models(model)
    if weights is not None and len(specs) > 1:
        raise UsageError("--weights fits one architecture; pick it with --model resnet18 or mlp")
    ensure_writable(out)
    layout = ArtifactLayout(out)
    cases: list[ParityCase] = []
    for spec in specs:
        state = load_state(spec.name, weights) if weights else seeded_state(spec.name, seed)
        manifest = export_model(spec, state, layout, max_batch)
        cases += [ParityCase(**_case_fields(case)) for case in manifest["parity"]]
        _print_artifacts(manifest, layout.manifest(spec.name))
    return _report_parity(cases)


def parity_command(model: str, artifacts: Path) -> int:
    layout = ArtifactLayout(artifacts)
    cases = [case for spec in select_models(model) for case in artifact_parity(spec, layout)]
    return _report_parity(cases)


def demo_command(out: Path) -> int:
    """Until the serving stack lands: export both models, then check parity from disk."""
    status = export_command("all", out, None, seed=0, max_batch=64)
    print("\nParity again, from the artifacts on disk:")
    return max(status, parity_command("all", out))


def _print_artifacts(manifest: dict, manifest_path: Path) -> None:
    artifacts = manifest["artifacts"]
    print(f"[{manifest['model']}] weights sha256 {manifest['weights_sha256'][:16]}...")
    for label, key in (("TorchServe", "torchserve_mar"), ("TF Serving", "tf_savedmodel")):
        size_mb = artifacts[key]["bytes"] / 1e6
        print(f"[{manifest['model']}] {label:<10} {artifacts[key]['path']} ({size_mb:.1f} MB)")
    print(f"[{manifest['model']}] manifest   {manifest_path}")


def _case_fields(case: dict) -> dict:
    return {
        key: case[key] for key in ("model", "candidate", "batch", "max_abs_diff", "max_rel_diff")
    }


def _report_parity(cases: list[ParityCase]) -> int:
    print(format_cases(cases))
    failed = [case for case in cases if not case.passed]
    if failed:
        worst = max(failed, key=lambda case: case.max_abs_diff)
        raise CheckFailed(
            f"parity failed: {worst.model} via {worst.candidate} differs by "
            f"{worst.max_abs_diff:.3e} (tolerance {failed[0].as_dict()['tolerance']:g})"
        )
    return 0
