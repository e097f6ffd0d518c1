"""`servebench report`: a results folder in, report.html and report.md out (a pure function)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from servebench.errors import UsageError
from servebench.report.sections import SECTIONS
from servebench.report.verdict import Finding, verdict


@dataclass
class RunData:
    run_dir: Path
    results: dict
    manifest: dict
    stack: dict | None
    artifacts: dict
    bad_inputs: dict | None

    @classmethod
    def read(cls, run_dir: Path) -> RunData:
        results_file = run_dir / "results.json"
        if not results_file.is_file():
            raise UsageError(
                f"{run_dir} has no results.json; pass a folder written by `servebench bench`"
            )
        context = run_dir / "context"
        artifacts = {
            path.stem.removeprefix("artifact-"): json.loads(path.read_text())
            for path in sorted(context.glob("artifact-*.json"))
        }
        return cls(
            run_dir=run_dir,
            results=json.loads(results_file.read_text()),
            manifest=_optional(run_dir / "run.json") or _optional(run_dir / "manifest.json") or {},
            stack=_optional(context / "stack.json"),
            artifacts=artifacts,
            bad_inputs=_optional(context / "bad-inputs.json"),
        )

    @property
    def models(self) -> list[str]:
        return self.results["params"]["models"]

    @cached_property
    def verdict(self) -> tuple[list[str], list[Finding]]:
        """(why no winner may be named, the findings): see report.verdict."""
        return verdict(self.results, self.stack, self.bad_inputs)


def _optional(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


@dataclass
class Report:
    """The report's content, independent of the output format."""

    title: str
    banner: list[str]
    # section name -> blocks: ("p", text), ("table", head, rows), ("img", name, uri), ("pre", text)
    sections: dict


def build(data: RunData) -> Report:
    banner = []
    for name, implementation in data.results.get("implementations", {}).items():
        if "emulator" in implementation:
            banner.append(
                f"The {name} side of this run was served by the servebench TF Serving emulator "
                "(its API, the same SavedModel, the TF runtime), NOT by TensorFlow Serving. Its "
                "figures say nothing about TF Serving, and no verdict is drawn from them."
            )
    aa = data.results.get("aa")
    if aa:
        banner.append(
            f"An A/A run: {aa['target']} against itself, to test the verdict rules. It compares "
            "nothing; any winner it names is a false positive."
        )
    if not data.results.get("complete"):
        banner.append("This run did not complete (interrupted or failed): figures are partial.")
    sections = {name: section(data) for name, section in SECTIONS.items()}
    title = f"servebench report: {data.results['scenario']} run {data.run_dir.name}"
    return Report(title, banner, sections)


def write(run_dir: Path, formats: list[str]) -> list[Path]:
    from servebench.report.render import html, markdown

    report = build(RunData.read(run_dir))
    written = []
    if "html" in formats:
        path = run_dir / "report.html"
        path.write_text(html(report), encoding="utf-8")
        written.append(path)
    if "md" in formats:
        plot_dir = run_dir / "plots"
        plot_dir.mkdir(exist_ok=True)
        for blocks in report.sections.values():
            for block in blocks:
                if block[0] == "img":
                    _, name, uri = block
                    (plot_dir / f"{name}.png").write_bytes(base64.b64decode(uri.split(",", 1)[1]))
        path = run_dir / "report.md"
        path.write_text(markdown(report), encoding="utf-8")
        written.append(path)
    return written


__all__ = ["SECTIONS", "RunData", "build", "write"]
