"""The few lines a reader wants first: who served, each model's rates, how much the figures can
bear, and the verdict. `demo` prints them; the report's headline carries them."""

from __future__ import annotations

from servebench.missing import figure
from servebench.report.verdict import Finding

VERDICT_GRADE = {
    "duration_s": 30.0,
    "repeat": 5,
    "warmup_s": 5.0,
}  # the shortest run whose figures we lean on
# Per run beyond its warm-up and window: Locust's start and stop (the final scrape), measured
# here at about 1.6 s and 3.6 s, and the analysis; plus the in-process limits once per target.
RUN_OVERHEAD_S = 6.0


def summary_lines(results: dict, reasons: list[str], rows: list[Finding]) -> list[str]:
    """Who served, each model's median req/s per target, the run's grade, and the verdict."""
    served = ", ".join(f"{name}: {impl}" for name, impl in results["implementations"].items())
    lines = [f"served by {served}"]
    for model in results["params"]["models"]:
        rates = [
            f"{e['target']} {figure(_median(e, 'achieved_rps'), '.0f')}"
            for e in results["targets"]
            if e["model"] == model
        ]
        if rates:
            lines.append(f"{model} req/s (median): " + " | ".join(rates))
        lines += [
            f"{model} knee: {knee_text(k)}" for k in results.get("knee", []) if k["model"] == model
        ]
    grade = grade_line(results) if results["targets"] else None
    if grade:
        lines.append(grade)
    if reasons:
        lines.append("verdict: none, because " + "; ".join(reasons))
    else:
        decided = [r for r in rows if r.winner]
        lines.append(f"verdict: {len(decided)} of {len(rows)} criteria decided; see the report")
    return lines


def grade_line(results: dict) -> str | None:
    """None for a run long enough to lean on; else what it is, and the run that would be."""
    params = results["params"]
    grade = VERDICT_GRADE
    runs = params.get("runs", params["repeat"])
    if params["window_s"] >= grade["duration_s"] and runs >= grade["repeat"]:
        return None
    targets = len(results["targets"]) or 1
    per_run = grade["warmup_s"] + grade["duration_s"] + RUN_OVERHEAD_S
    minutes = targets * grade["repeat"] * per_run / 60
    return (
        f"demo-grade: {runs} run(s) of {params['window_s']:g} s per target. "
        f"Verdict-grade is `servebench bench --duration {grade['duration_s']:.0f}s --repeat "
        f"{grade['repeat']}` with the same targets: about {minutes:.0f} min for these "
        f"{targets} target(s)"
    )


def knee_text(knee: dict) -> str:
    """ "torchserve-rest 438 req/s at p99 <= 50 ms", or that none was found."""
    if not knee["knee_rps"]:
        return f"{knee['target']} none found at p99 <= {knee['slo_ms_p99']:g} ms"
    return f"{knee['target']} {knee['knee_rps']:.0f} req/s at p99 <= {knee['slo_ms_p99']:g} ms"


def _median(entry: dict, key: str) -> float | None:
    return ((entry.get("summary") or {}).get(key) or {}).get("median")
