"""results/<run-id>/: results.json (versioned) and run.json (what ran, and on what), written as
the run goes; the results' header, the judgement of each measured target, and the context a run
folder keeps. run.json was manifest.json before, a name the artifacts' manifests also have; the
report still reads that name in older run folders."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

from servebench.bench.analysis import server_time_beyond_client
from servebench.bench.limits import ratio_interval
from servebench.bench.plan import BenchPlan
from servebench.export.layout import ArtifactLayout
from servebench.paths import REPO_ROOT
from servebench.stack import stack_identity
from servebench.stack_record import Stack
from servebench.stats import t95
from servebench.target import Target

RESULTS_SCHEMA = 2  # 2: each repetition is a separate run of the target, not a window of one
RUN_RECORD = "run.json"
FRAMEWORK = {"torchserve": "torch", "tfserving": "tensorflow", "diy": "onnxruntime"}
NEAR_CEILING = 0.5  # warn above half the load generator's calibrated ceiling
LOADGEN_BUSY = 0.8  # warn above 80% of one core in any one Locust process
STABILITY_DRIFT = 0.10  # a run whose slices' throughput spreads wider than this is flagged
STEADY_SCENARIOS = ("steady", "poisson")  # one load level per run: its slices should agree
ARMS = ("A", "B")  # an A/A run's two arms
PACKAGES = ("torch", "tensorflow", "torchserve", "locust", "prometheus-client", "grpcio", "numpy")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def write_json(path: Path, document: dict) -> None:
    """Write atomically, so an interrupted run never leaves half a file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.rename(path)


def run_record(stack: dict, loadgen: dict) -> dict:
    """The software, hardware, servers and load generator of the run."""
    return {
        "schema_version": RESULTS_SCHEMA,
        "git_sha": _git_sha(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "cpu": {
            "model": _cpu_model(),
            "cores": _cores(),
            "arch": platform.machine(),
            "avx": _has_avx(),
        },
        "images": _images(stack),
        "implementations": {
            name: {"implementation": b["implementation"], "real": b["real"]}
            for name, b in {**stack["backends"], **stack.get("monitoring", {})}.items()
        },
        "servers": {name: b["settings"] for name, b in stack["backends"].items()},
        "server_configs": _config_texts(stack),
        "server_cpus": stack.get("server_cpus"),
        "server_threads": stack.get("server_threads"),
        "loadgen": loadgen,
    }


def _config_texts(stack: dict) -> dict:
    texts = {}
    for name, backend in stack["backends"].items():
        for key in ("config", "model_config"):
            path = backend["settings"].get(key)
            if path and Path(path).is_file():
                texts[name] = Path(path).read_text()
    return texts


def _git_sha() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() or "unknown"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _has_avx() -> bool | None:
    """Whether the host CPU has AVX (the official tensorflow/serving image is built with it);
    None where /proc/cpuinfo does not say (not Linux)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return None
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return "avx" in line.split(":", 1)[1].split()
    return None


def _images(stack: dict) -> dict:
    """Each containerised backend's image: its platform, and whether it was a labelled
    stand-in for an official image (detected from the image's labels, never assumed)."""
    images = {}
    for name, backend in {**stack["backends"], **stack.get("monitoring", {})}.items():
        container = backend.get("settings", {}).get("container")
        if container:
            from servebench.backends.docker_mode import container_image

            images[name] = container_image(container) or {}
    return images


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def keep_context(plan: BenchPlan, stack: dict, run_dir: Path) -> list[str]:
    """Copy what the report needs besides the measurements, so a run folder stands alone:
    the stack record, the artifacts' manifests and the bad-input matrix of this very stack.
    Returns warnings."""
    context = run_dir / "context"
    context.mkdir()
    write_json(context / "stack.json", stack)
    for spec in plan.models:
        manifest_file = ArtifactLayout(Stack(stack).artifacts).manifest(spec.name)
        if manifest_file.is_file():
            write_json(
                context / f"artifact-{spec.name}.json", json.loads(manifest_file.read_text())
            )
    bad_inputs = plan.state_dir / "bad-inputs.json"
    if not bad_inputs.is_file():
        return []
    matrix = json.loads(bad_inputs.read_text())
    if matrix.get("stack") != stack_identity(stack):
        # Another stack's answers (an earlier emulator run, say) must not judge this one.
        return [
            f"{bad_inputs} was made against another stack and is left out; run "
            "`servebench probe-bad-inputs` against this one"
        ]
    write_json(context / "bad-inputs.json", matrix)
    return []


def header(plan: BenchPlan, stack: dict, calibration: dict | None) -> dict:
    backends = stack["backends"]
    if plan.aa:  # the one server under test is both arms; the other plays no part
        server = Target.parse(plan.targets[0]).server
        backends = {server: backends[server]}
    implementations = {name: b["implementation"] for name, b in backends.items()}
    emulated = [name for name, b in backends.items() if not b["real"]]
    warnings = []
    if emulated:
        warnings.append(
            f"{', '.join(emulated)} served by an emulator: its figures say nothing about the real "
            "server, and no verdict may be drawn from this run"
        )
    if calibration is None:
        warnings.append(
            "the load generator's ceiling is unknown for some of this run's cases: run "
            "`servebench calibrate` (or bench without --calibrate-seconds 0)"
        )
    grpc = any(Target.parse(target).protocol == "grpc" for target in plan.targets)
    if stack.get("mode") == "kubernetes" and grpc:
        warnings.append(
            "gRPC through a Kubernetes Service is balanced per connection (one per Locust user), "
            "not per request: with several replicas, gRPC load may fall unevenly on them"
        )
    return {
        "schema_version": RESULTS_SCHEMA,
        "started_at": time.time(),
        "finished_at": None,
        "complete": False,
        "interrupted": False,
        "scenario": plan.scenario,
        "params": {
            "models": [spec.name for spec in plan.models],
            "targets": plan.targets,
            "warmup_s": plan.warmup_s,
            "window_s": plan.window_s,
            "runs": plan.runs,
            "repeat": plan.runs,  # the option's name: runs since results schema 2
            "users": plan.users,
            "rate": plan.rate,
            "batch": plan.batch,
            "workers": plan.workers,
            "loadgen_cpus": plan.loadgen_cpus,
            "server_cpus": stack.get("server_cpus"),
            "server_threads": stack.get("server_threads"),
            "batch_size": stack.get("batch_size", 1),
            "encoding": plan.encoding,
            "find_knee": plan.find_knee,
            "aa": plan.aa,
            **plan.options,
        },
        "implementations": implementations,
        "aa": {
            "target": plan.targets[0],
            "arms": list(ARMS),
            **({"hold_ms": {ARMS[1]: plan.aa_hold_ms}} if plan.aa_hold_ms else {}),
        }
        if plan.aa
        else None,  # fmt: skip
        "verdict_allowed": not emulated,
        "calibration": calibration,
        "warnings": warnings,
        "parity": {},
        "in_process": {},
        "targets": [],
        "knee": [],
    }


# Prometheus and the raw request log count the same requests; more apart than this is a warning.
CROSSCHECK_TOLERANCE = 0.01


def judge(entry: dict, results: dict, plan: BenchPlan) -> None:
    """Serving efficiency, and warnings where the figures may not mean what they seem."""
    summary = entry["summary"]
    if summary is None:
        entry["warnings"].append("no complete measurement window")
        return
    achieved = summary["achieved_rps"]["median"] or 0.0
    limit = results["in_process"].get(entry["model"], {}).get(FRAMEWORK[entry["server"]])
    if limit and not plan.rate:
        entry["serving_efficiency"] = achieved / limit["rps"]
        entry["serving_efficiency_ci95"] = ratio_interval(
            summary["achieved_rps"]["ci95"], limit.get("rps_ci95")
        )
        entry["in_process_rps"] = limit["rps"]
        entry["in_process_log_variance"] = log_variance(limit.get("rps_ci95"))
    offered = max((rep["offered_rps"] for rep in entry["repetitions"]), default=0.0)
    busy = max((loadgen_busiest(rep["resources"], plan) for rep in entry["repetitions"]),
               default=None)  # fmt: skip
    entry["warnings"] += loadgen_limits(
        offered, entry["loadgen_ceiling_rps"], busy, plan, entry["protocol"]
    )
    if plan.scenario in STEADY_SCENARIOS:  # elsewhere the load changes within a run by design
        entry["warnings"] += unstable_runs(entry["repetitions"])
    if not entry["real"]:
        entry["warnings"].append(f"served by the {entry['implementation']}, not the real server")
    entry["warnings"] += sorted(
        {reason for rep in entry["repetitions"] if (reason := server_time_beyond_client(rep))}
    )
    disagreement = crosscheck_disagreement(entry["crosscheck"])
    if disagreement is not None and disagreement > CROSSCHECK_TOLERANCE:
        entry["warnings"].append(
            f"Prometheus counted {entry['crosscheck']['prometheus_requests']:.0f} requests and "
            f"the raw log {entry['crosscheck']['log_requests']}, {disagreement:.1%} apart: the "
            "client-side metrics may have missed a load generator"
        )


def loadgen_limits(
    offered: float, ceiling: float | None, busy: float | None, plan: BenchPlan, protocol: str
) -> list[str]:
    """Why a window's figures may describe Locust rather than the server: an offered rate above
    half the load generator's calibrated ceiling, or one Locust process above 80% of a core (a
    Locust process runs on one core however many it is given). ``busy``: the busiest process's
    CPU %, None when it was never sampled (the verdict says "not measured" then)."""
    reasons = []
    if ceiling and offered > NEAR_CEILING * ceiling:
        reasons.append(
            f"{offered:.0f} req/s offered is above half the load generator's {protocol} "
            f"ceiling ({ceiling:.0f} req/s): this may measure Locust, not the server"
        )
    if busy is not None and busy > LOADGEN_BUSY * 100:
        reasons.append(
            f"a Locust process used {busy:.0f}% of a core (limit {LOADGEN_BUSY:.0%} of one per "
            "process): the load generator may be the bottleneck"
        )
    return reasons


def loadgen_busiest(resources: dict, plan: BenchPlan) -> float | None:
    """The busiest Locust process's mean CPU % in a window; from a record without it (one
    from before it was sampled), the tree's total over its processes."""
    if "loadgen_busiest_cpu_percent_mean" in resources:
        return resources["loadgen_busiest_cpu_percent_mean"]
    total = resources.get("loadgen_cpu_percent_mean")
    return None if total is None else total / max(plan.workers, 1)


def log_variance(interval: dict | None) -> float:
    """The variance of the log of a mean, from its 95% interval (mean, low, high, n)."""
    if not interval or not interval.get("mean") or interval.get("n", 0) < 2:
        return 0.0
    half = (interval["high"] - interval["low"]) / 2
    return (half / t95(interval["n"] - 1) / interval["mean"]) ** 2


def unstable_runs(repetitions: list[dict]) -> list[str]:
    """A run whose throughput drifted across the slices of its window more than STABILITY_DRIFT
    is flagged: it still counts (a verdict over runs absorbs it), but its figure is marked."""
    flagged = [
        f"run {index + 1} drifted {rep['stability']['drift']:.0%} across its window "
        f"(slices {', '.join(f'{v:.0f}' for v in rep['stability']['slices_rps'])} req/s)"
        for index, rep in enumerate(repetitions)
        if ((rep.get("stability") or {}).get("drift") or 0) > STABILITY_DRIFT
    ]
    if not flagged:
        return []
    return [f"unstable: {'; '.join(flagged)}, above the {STABILITY_DRIFT:.0%} it may drift"]


def crosscheck_disagreement(crosscheck: dict) -> float | None:
    """How far Prometheus' request count is from the raw log's, relative to the log."""
    counted, logged = crosscheck.get("prometheus_requests"), crosscheck.get("log_requests")
    if counted is None or not logged:
        return None
    return abs(counted - logged) / logged
