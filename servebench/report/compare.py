"""`servebench compare RUN_A RUN_B`: two run folders judged by the verdict's own rules.

The same target in two runs (a server upgrade, a config change, another machine) is compared
over each run folder's separate runs, as the verdict compares two servers. A pair that differs
in what must be equal (the model's weights, the CPU budget) or whose parity did not pass is
refused in one line, unless the user names the difference with ``--label``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from servebench.errors import UsageError
from servebench.report import Report, RunData
from servebench.report.verdict import (
    ARMS,
    SPEED,
    Finding,
    Sides,
    blockers,
    speed_findings,
)
from servebench.target import Target


@dataclass(frozen=True)
class Comparison:
    names: dict[str, str]  # "A"/"B" -> what the report calls each run
    pairs: list[tuple[str, str]]  # the (model, target) both runs measured
    differences: list[str]  # what differs that should not, each said once
    label: str | None
    reasons: list[str]  # why no winner may be named
    rows: list[Finding]


def compare(run_a: Path, run_b: Path, label: str | None = None) -> Comparison:
    """Judge every (model, target) the two runs share; UsageError for a pair that cannot be."""
    runs = {"A": RunData.read(run_a), "B": RunData.read(run_b)}
    for data in runs.values():
        if data.results.get("schema_version", 1) < 2:
            raise UsageError(f"{data.run_dir} took its intervals from windows of one run "
                             "(results schema 1): bench it again with this version")  # fmt: skip
    pairs = _shared_pairs(runs)
    differences = _differences(runs, pairs)
    if differences and not label:
        raise UsageError(
            f"{run_a.name} and {run_b.name} differ in {'; '.join(differences)}: name the "
            'difference with --label "..." to compare them anyway'
        )
    names = {side: f"run {side} ({data.run_dir.name})" for side, data in runs.items()}
    sides = Sides(ARMS, names)
    reasons = [
        f"{names[side]}: {reason}"
        for side, data in runs.items()
        for reason in blockers(_only(data.results, pairs))
    ]
    claims = len(pairs) * len(SPEED)
    rows = []
    for model, target in pairs:
        pair = {side: _entry(data.results, model, target) for side, data in runs.items()}
        params = runs["A"].results.get("params", {})
        rows += speed_findings(f"{model}, {target}", pair, sides, claims, params)
    if reasons:
        rows = [Finding(r.criterion, r.scope, None, "no verdict: withheld", "withheld")
                for r in rows]  # fmt: skip
    return Comparison(names, pairs, differences, label, reasons, rows)


def _shared_pairs(runs: dict[str, RunData]) -> list[tuple[str, str]]:
    measured = [
        {(e["model"], e["target"]) for e in data.results["targets"] if e.get("repetitions")}
        for data in runs.values()
    ]
    pairs = sorted(measured[0] & measured[1])
    if not pairs:
        a, b = (data.run_dir.name for data in runs.values())
        raise UsageError(f"{a} and {b} measured no target of the same model in common")
    return pairs


def _differences(runs: dict[str, RunData], pairs: list[tuple[str, str]]) -> list[str]:
    """What must be equal and is not: the weights, the parity, the CPU budget."""
    a, b = runs["A"], runs["B"]
    found = []
    for model in sorted({model for model, _ in pairs}):
        digests = [data.artifacts.get(model, {}).get("weights_sha256") for data in (a, b)]
        if None in digests or digests[0] != digests[1]:
            found.append(f"the weights of {model}")
    for data in (a, b):
        if any("parity" in reason for reason in blockers(_only(data.results, pairs))):
            found.append(f"parity ({data.run_dir.name}'s did not pass)")
    for key in ("server_cpus", "server_threads", "batch_size", "users", "batch", "encoding"):
        values = [data.results.get("params", {}).get(key) for data in (a, b)]
        if values[0] != values[1]:
            found.append(f"{key} ({values[0]} vs {values[1]})")
    return found


def _only(results: dict, pairs: list[tuple[str, str]]) -> dict:
    """The results of the compared targets alone, with only their servers' implementations."""
    targets = [e for e in results["targets"] if (e["model"], e["target"]) in pairs]
    servers = {Target.parse(target).server for _, target in pairs}
    implementations = {
        name: impl for name, impl in results.get("implementations", {}).items() if name in servers
    }
    emulated = any("emulator" in impl for impl in implementations.values())
    return {**results, "targets": targets, "knee": [], "implementations": implementations,
            "verdict_allowed": results.get("verdict_allowed", False) or not emulated}  # fmt: skip


def _entry(results: dict, model: str, target: str) -> dict | None:
    return next(
        (e for e in results["targets"] if e["model"] == model and e["target"] == target), None
    )


def as_report(comparison: Comparison) -> Report:
    """The comparison as a report (the verdict's table, and what was compared)."""
    names = comparison.names
    shared = ", ".join(f"{model} {target}" for model, target in comparison.pairs)
    compared = [("p", f"{names['A']} against {names['B']}: {shared}.")]
    if comparison.label:
        compared.append(("p", f"The difference under test, as labelled: {comparison.label}."))
    if comparison.differences:
        compared.append(("p", "Differences beyond it: " + "; ".join(comparison.differences)))
    verdict = []
    if comparison.reasons:
        verdict.append(("p", "No winner is named: " + "; ".join(comparison.reasons) + "."))
    table = [[f.criterion, f.scope, names.get(f.winner, "none"), f.text] for f in comparison.rows]
    verdict.append(("table", ["criterion", "scope", "winner", "finding"], table))
    title = f"servebench compare: {names['A']} vs {names['B']}"
    return Report(title, [], {"What was compared": compared, "Verdict": verdict})


def lines(comparison: Comparison) -> list[str]:
    """What the command prints: each finding, one line."""
    out = [f"{comparison.names['A']} vs {comparison.names['B']}"]
    out += [f"no winner: {reason}" for reason in comparison.reasons]
    out += [f"{f.scope} {f.criterion}: {f.text}" for f in comparison.rows]
    return out
