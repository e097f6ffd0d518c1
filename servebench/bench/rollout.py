"""A new model version rolled out under load, then rolled back (`bench --scenario rollout`),
the way each server is meant to be used:
- TF Serving: the version folder is put in place under the model's base; the default version
  policy loads the new version, then unloads the old. Rolling back takes the folder away.
- TorchServe: the management API registers the new .mar, makes its version the default, then
  unregisters the old version. Rolling back does the same the other way.

Each reply is matched against each version's output for the same input (an answer key the load
generator reads), so every request counts as answered by v1 or v2, wrong, or failed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from servebench.backends import tfserving, torchserve
from servebench.errors import UsageError
from servebench.export.layout import FIRST_VERSION, ArtifactLayout
from servebench.export.torchserve import mar_version
from servebench.load.answers import AnswerKey
from servebench.models import ModelSpec
from servebench.payloads import pool_inputs
from servebench.request_log import RequestLog, read_test_start
from servebench.stack_record import Stack

NEW_VERSION = 2
RATE_SHARE = 0.5  # of the knee: a steady load, well short of saturation
# Where in the measured time each step starts: the rollout, then the rollback, each with time
# before and after it.
AT_FRACTIONS = {"rollout": 0.2, "rollback": 0.5}
DONE_TIMEOUT_S = 90.0
KEY = "answer_key.npz"  # in the target's folder: each version's output for the pool's inputs
MIN_STEP_S = 2.0  # a step's window lasts at least this long, so its p99 has replies behind it


def check_rollout(spec: ModelSpec, stack: dict, server: str) -> None:
    """One line saying what to do, before any load, when the rollout cannot run here."""
    if server not in ("torchserve", "tfserving"):
        raise UsageError(
            f"--scenario rollout rolls a version out on TorchServe or TF Serving; {server} has "
            "one model and no versions"
        )
    # TF Serving serves the versions in its model base: the stack's own folder (`up`), or
    # Compose's model-base volume, which only the bench container mounts beside the server.
    base = stack["backends"]["tfserving"].get("settings", {}).get("model_base")
    if not base or not Path(base).is_dir():
        raise UsageError(
            f"--scenario rollout puts versions in TF Serving's model base {base or '(none)'}, "
            "which is not on this machine: run it where the stack's record says (in Compose: "
            f'BENCH_ARGS="--scenario rollout --model {spec.name}" docker compose --profile '
            "bench run --rm bench)"
        )
    layout = ArtifactLayout(Stack(stack).artifacts)
    weights = layout.weights(spec.name, NEW_VERSION)
    if not weights.is_file():
        raise UsageError(
            f"{weights} is missing: write the version to roll out first, e.g. `servebench export "
            f"--model {spec.name} --version {NEW_VERSION} --seed 1 --out {layout.root}` (in "
            f"Compose: docker compose run --rm export export --model {spec.name} --version "
            f"{NEW_VERSION} --seed 1 --out /artifacts)"
        )


def write_answer_key(spec: ModelSpec, layout: ArtifactLayout, batch: int, path: Path) -> Path:
    """Each version's output, computed by torch from its exported weights, for the inputs the
    load generator sends."""
    from servebench.export.exporter import torch_predict
    from servebench.models.weights import load_state

    inputs = pool_inputs(spec, batch)
    outputs = {}
    for version in (FIRST_VERSION, NEW_VERSION):
        predict = torch_predict(spec, load_state(spec, layout.weights(spec.name, version)))
        outputs[version] = [predict(batch_inputs) for batch_inputs in inputs]
    AnswerKey(outputs).save(path)
    return path


def switch_version(backend: dict, layout: ArtifactLayout, model: str, old: int, new: int) -> None:
    """Move ``backend`` from serving version ``old`` of ``model`` to version ``new``; return
    once the server says only ``new`` serves."""
    if backend["name"] == "torchserve":
        management = backend["endpoints"]["management"]
        torchserve.register_version(
            management, layout.mar(model, new).name, backend.get("settings", {})
        )
        torchserve.set_default_version(management, model, mar_version(new))
        torchserve.unregister_version(management, model, mar_version(old))
        return
    base = Path(backend["settings"]["model_base"])
    if new > old:
        tfserving.place_version(base, model, new, layout)
    else:
        tfserving.withdraw_version(base, model, old)
    deadline = time.time() + DONE_TIMEOUT_S
    while tfserving.available_versions(backend["endpoints"]["rest"], model) != [new]:
        if time.time() > deadline:
            raise RuntimeError(f"TF Serving still did not serve version {new} alone after "
                               f"{DONE_TIMEOUT_S:.0f} s")  # fmt: skip
        time.sleep(0.05)


class RolloutDriver(threading.Thread):
    """Waits for Locust's test start, then rolls the new version out at the rollout's time and
    back at the rollback's. ``steps`` records each: when it was triggered and done, or why it
    failed."""

    def __init__(
        self, backend: dict, layout: ArtifactLayout, model: str, log_dir: Path, at_s: dict
    ) -> None:
        super().__init__(daemon=True)
        self.backend, self.layout, self.model = backend, layout, model
        self.log_dir, self.at_s = log_dir, at_s
        self.steps: list[dict] = []
        self.cancelled = threading.Event()

    def run(self) -> None:
        while (start := read_test_start(self.log_dir)) is None:
            if self.cancelled.wait(0.2):
                return
        moves = {"rollout": (FIRST_VERSION, NEW_VERSION), "rollback": (NEW_VERSION, FIRST_VERSION)}
        for label, (old, new) in moves.items():
            if self.cancelled.wait(max(start + self.at_s[label] - time.time(), 0)):
                return
            step = {"label": label, "from": old, "to": new, "triggered_unix": time.time()}
            self.steps.append(step)
            try:
                switch_version(self.backend, self.layout, self.model, old, new)
            except Exception as exc:  # noqa: BLE001 (said in the results, never lost)
                step["error"] = f"{type(exc).__name__}: {exc}"
                return
            step["done_unix"] = time.time()

    def finish(self) -> list[dict]:
        """The steps; a stack left on the new version (a run cut short, a failed rollback) is
        put back on the first, since every later run expects it."""
        self.cancelled.set()
        self.join(timeout=DONE_TIMEOUT_S + 30)
        if self.steps and (
            self.steps[-1]["to"] != FIRST_VERSION or "done_unix" not in self.steps[-1]
        ):
            restore_first_version(self.backend, self.layout, self.model)
        return [dict(step) for step in self.steps]


def restore_first_version(backend: dict, layout: ArtifactLayout, model: str) -> None:
    if backend["name"] == "torchserve":
        management = backend["endpoints"]["management"]
        registered = torchserve.registered_versions(management, model)
        if mar_version(FIRST_VERSION) not in registered:
            torchserve.register_version(
                management, layout.mar(model).name, backend.get("settings", {})
            )
        torchserve.set_default_version(management, model, mar_version(FIRST_VERSION))
        if mar_version(NEW_VERSION) in registered:
            torchserve.unregister_version(management, model, mar_version(NEW_VERSION))
    elif (Path(backend["settings"]["model_base"]) / model / str(NEW_VERSION)).exists():
        switch_version(backend, layout, model, NEW_VERSION, FIRST_VERSION)


def step_figures(step: dict, log: RequestLog, until: float) -> dict:
    """What one step cost the clients, from the raw log:
    - ``first_new_s``: from the trigger to the first reply by the new version;
    - ``all_new_s``: from the trigger until the server said only the new version serves;
    - ``old_after_all_new``: replies by the old version to requests sent from then until
      ``until`` (the next step, or the end), which must be none;
    - ``errors``: failed requests, by kind, sent from the trigger to the end of the step's
      window."""
    triggered, done = step["triggered_unix"], step.get("done_unix")
    window_end = max(done or log.end.max(initial=triggered), triggered + MIN_STEP_S)
    new, old = log.versions == step["to"], log.versions == step["from"]
    answered_new = log.end[new & log.success & (log.end >= triggered)]
    sent = log.start
    during = (sent >= triggered) & (sent < window_end)
    kinds = [kind for kind, keep in zip(log.kinds, during & ~log.success, strict=True) if keep]
    return {
        **{key: step[key] for key in ("label", "from", "to", "triggered_unix")},
        "done_unix": done,
        **({"error": step["error"]} if "error" in step else {}),
        "first_new_s": _seconds(answered_new.min() - triggered if answered_new.size else None),
        "all_new_s": _seconds(done - triggered if done else None),
        "old_after_all_new": int((old & (sent >= done) & (sent < until)).sum()) if done else None,
        "errors": {kind: kinds.count(kind) for kind in sorted(set(kinds))},
        "window_end_unix": window_end,
    }


def answer_counts(log: RequestLog) -> dict:
    """Every request of the run, once: answered by a version, wrong, or failed otherwise."""
    wrong = np.asarray([kind == "wrong answer" for kind in log.kinds], bool)
    counts = {
        f"v{version}": int((log.success & (log.versions == version)).sum())
        for version in (FIRST_VERSION, NEW_VERSION)
    }
    counts["wrong"] = int((~log.success & wrong).sum()) if len(log) else 0
    counts["failed"] = int((~log.success & ~wrong).sum()) if len(log) else 0
    counts["requests"] = len(log)
    return counts


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 3)
