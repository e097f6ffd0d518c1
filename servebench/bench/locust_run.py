"""One Locust process (or a master plus local workers) against one target, watched."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from servebench.backends.process import free_port, log_tail, spawn, stop_session
from servebench.bench.analysis import resource_window
from servebench.bench.monitor import (
    ProcessTreeStats,
    Progress,
    ResourceSampler,
    Schedule,
    StatsSource,
    log_live,
    prometheus_live,
    schedule,
)
from servebench.errors import UsageError
from servebench.metrics.exporter import announce, announcement
from servebench.metrics.prometheus import loadgen_discovery
from servebench.paths import REPO_ROOT
from servebench.request_log import RequestLog, read_test_start
from servebench.stack_record import Stack

LOCUSTFILE = REPO_ROOT / "loadtest" / "locustfile.py"
SCENARIOS = REPO_ROOT / "loadtest" / "scenarios"
STARTUP_GRACE_S = 90.0


def scenario_names() -> list[str]:
    return sorted(path.stem for path in SCENARIOS.glob("*.py") if not path.stem.startswith("_"))


@dataclass
class LocustJob:
    stack_file: Path
    scenario: str
    model: str
    target: str
    duration_s: float
    users: int
    rate: float = 0.0
    batch: int = 1
    workers: int = 0
    loadgen_cpus: list[int] | None = None
    options: dict = field(default_factory=dict)  # further --sb-* scenario parameters

    def command(self, run_dir: Path) -> list[str]:
        command = [
            sys.executable, "-m", "locust",  # the console script may live elsewhere (Debian)
            "-f", f"{LOCUSTFILE},{SCENARIOS / (self.scenario + '.py')}",
            "--headless", "--only-summary", "--loglevel", "WARNING",
            "--csv", str(run_dir / "locust"),
            "--sb-stack", str(self.stack_file),
            "--sb-model", self.model,
            "--sb-target", self.target,
            "--sb-duration", str(self.duration_s),
            "--sb-users", str(self.users),
            "--sb-rate", str(self.rate),
            "--sb-batch", str(self.batch),
            "--sb-request-log", str(run_dir),
        ]  # fmt: skip
        for name, value in self.options.items():
            command += [f"--sb-{name.replace('_', '-')}", str(value)]
        if self.workers:
            command += ["--processes", str(self.workers)]
        return command


@dataclass
class LocustRun:
    run_dir: Path
    spawned: float  # when the process started; test_start - spawned is Locust's start-up
    test_start: float
    finished: float
    returncode: int
    samples: list[dict]
    interrupted: bool = False


def run_locust(
    job: LocustJob,
    run_dir: Path,
    server_stats: StatsSource | None,
    prometheus: str | None,
    label: str,
    parts: Schedule | None = None,
) -> LocustRun:
    """Run ``job``, sampling resources and showing progress (``parts`` names the stretches of
    its load: warm-up, windows); Ctrl-C stops Locust and returns what was measured
    (``interrupted``), and the caller re-raises. ``server_stats``: see monitor.server_stats
    (None: the server's resources are not sampled)."""
    run_dir = run_dir.resolve()  # Locust runs in the repository, not in the caller's folder
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "locust.log"
    early = _early_exporter(job) if prometheus else None
    command = job.command(run_dir)
    if early:
        command += ["--sb-exporter-port", str(early[2])]
    process = spawn(command, log, {}, cwd=REPO_ROOT, cpus=job.loadgen_cpus)
    if early:
        # Prometheus takes seconds to pick up a new target (file discovery is batched): told
        # now, it does so while Locust starts, rather than after, and the test begins sooner.
        # Locust announces the same target again itself.
        announce(early[0], early[1], early[2], process.pid)
    sampler = ResourceSampler({"server": server_stats, "loadgen": ProcessTreeStats(process.pid)})
    selector = f'target="{job.target}",model="{job.model}"'
    live = prometheus_live(prometheus, selector) if prometheus else log_live(run_dir)
    parts = parts or [("load", job.duration_s)]
    progress = Progress(label, parts, live, lambda: read_test_start(run_dir))
    spawned = time.time()
    sampler.start()
    progress.start()
    interrupted = False
    try:
        process.wait(timeout=job.duration_s + STARTUP_GRACE_S)
    except KeyboardInterrupt:
        interrupted = True
    except Exception:  # noqa: BLE001 (a timeout or anything else: stop Locust, keep the data)
        interrupted = True
    finally:
        if process.poll() is None:
            stop_session(process.pid, grace=10)
        progress.stop()
        sampler.stop()
        if early:  # Locust removes it at quitting; not if it died first
            announcement(early[0], process.pid).unlink(missing_ok=True)
    test_start = read_test_start(run_dir)
    if test_start is None:
        raise UsageError(f"Locust did not start for {job.target}: {log_tail(log, 5)}")
    return LocustRun(
        run_dir=run_dir,
        spawned=spawned,
        test_start=test_start,
        finished=time.time(),
        returncode=process.returncode if process.returncode is not None else -1,
        samples=sampler.samples,
        interrupted=interrupted,
    )


def _early_exporter(job: LocustJob) -> tuple[Path, str, int] | None:
    """Where a single Locust process will announce its exporter (the folder Prometheus watches,
    the address it listens on, a free port), for the stacks whose Prometheus watches a folder;
    None for distributed runs, whose workers each serve on a port of their own, and for a
    Locust told to announce itself elsewhere (calibration's)."""
    if job.workers or "metrics_dir" in job.options:
        return None
    folder, listen = loadgen_discovery(Stack.load(job.stack_file))
    return (folder, listen, free_port()) if folder is not None else None


def run_one_window(
    job: LocustJob,
    run_dir: Path,
    server_stats: StatsSource | None,
    prometheus: str | None,
    label: str,
    warmup_s: float,
    window_s: float,
) -> tuple[dict, LocustRun]:
    """Run ``job`` (a warm-up, then one window); return the window's figures from the raw log,
    with the resources sampled in it, and the run."""
    run = run_locust(job, run_dir, server_stats, prometheus, label, schedule(warmup_s, 1, window_s))
    start, end = run.test_start + warmup_s, run.test_start + warmup_s + window_s
    figures = RequestLog.read(run_dir).window(start, end)
    return {**figures, "resources": resource_window(run.samples, start, end)}, run
