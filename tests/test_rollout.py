"""`bench --scenario rollout` on a stack of its own (version 2 exported beside version 1, which
no other test's artifacts should hold), and the worker kill on the session's stack."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from servebench.bench.rollout import answer_counts, step_figures
from servebench.export.exporter import export_model
from servebench.export.layout import ArtifactLayout
from servebench.models import DEFAULT_MAX_BATCH, get_model
from servebench.models.weights import seeded_state
from servebench.request_log import RequestLog
from servebench.stack import stack_file

from .conftest import bench, run_cli


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """mlp version 1 (seed 0) and version 2 (seed 1), and a stack serving version 1."""
    layout = ArtifactLayout(tmp_path_factory.mktemp("versions"))
    spec = get_model("mlp")
    export_model(spec, seeded_state(spec, 0), layout, DEFAULT_MAX_BATCH, lambda _: None)
    result = run_cli("export", "--model", "mlp", "--version", "2", "--seed", "1",
                     "--out", str(layout.root))  # fmt: skip
    assert result.returncode == 0, result.stderr
    state_dir = tmp_path_factory.mktemp("rollout-state")
    up = run_cli("up", "--model", "mlp", "--artifacts", str(layout.root),
                 "--state-dir", str(state_dir))  # fmt: skip
    assert up.returncode == 0, up.stderr
    record = json.loads(stack_file(state_dir).read_text())
    record["state_dir"] = str(state_dir)
    yield layout, record
    run_cli("down", "--state-dir", str(state_dir))


def test_export_writes_version_two_beside_version_one(two_versions):
    layout, stack = two_versions
    with zipfile.ZipFile(layout.mar("mlp", 2)) as mar:
        manifest = json.loads(mar.read("MAR-INF/MANIFEST.json"))
    assert manifest["model"]["modelName"] == "mlp" and manifest["model"]["modelVersion"] == "2.0"
    assert (layout.savedmodel("mlp", 2) / "saved_model.pb").is_file()
    record = json.loads(layout.manifest("mlp", 2).read_text())
    assert record["model_version"] == 2 and all(case["passed"] for case in record["parity"])
    assert (
        record["weights_sha256"] != json.loads(layout.manifest("mlp").read_text())["weights_sha256"]
    )
    # `up` served version 1 alone although version 2 sits in the artifacts
    base = stack["backends"]["tfserving"]["settings"]["model_base"]
    assert sorted(p.name for p in (layout.root / "tfserving" / "mlp").iterdir()) == ["1", "2"]
    assert [p.name for p in (Path(base) / "mlp").iterdir()] == ["1"]
    from servebench.backends.tfserving import available_versions

    assert available_versions(stack["backends"]["tfserving"]["endpoints"]["rest"], "mlp") == [1]


@pytest.mark.parametrize("target", ["torchserve-rest", "tfserving-grpc"])
def test_a_rollout_reaches_the_new_version_and_every_request_is_counted(
    two_versions, tmp_path, target
):
    layout, stack = two_versions
    run = bench(stack, tmp_path / "out", "--scenario", "rollout", "--model", "mlp",
                "--targets", target, "--rate", "100", "--duration", "24s", "--warmup", "2s",
                "--users", "2", "--no-limits", "--calibrate-seconds", "0",
                "--repeat", "1")  # fmt: skip
    (entry,) = run["results"]["targets"]
    rollout, steps = entry["rollout"], entry["rollout"]["steps"]
    assert [(s["label"], s["from"], s["to"]) for s in steps] == [
        ("rollout", 1, 2), ("rollback", 2, 1),
    ]  # fmt: skip
    for step in steps:
        assert "error" not in step, step
        assert step["first_new_s"] is not None and step["all_new_s"] is not None, step
        assert step["old_after_all_new"] == 0, step  # the old version never answered again
    answers = rollout["answers"]
    assert answers["v1"] > 0 and answers["v2"] > 0 and answers["wrong"] == 0
    assert (
        answers["v1"] + answers["v2"] + answers["wrong"] + answers["failed"]
        == (answers["requests"])
    )
    assert answers["requests"] == entry["requests_logged"]
    assert entry["offered_rps"] == 50 and entry["knee_basis"].startswith("50% of the knee")
    labels = [phase["label"] for phase in entry["phases"]]
    assert labels[:3] == ["before the rollout", "rollout (from v1)", "on version 2"]
    # the stack is back on version 1: what it serves now is version 1's output
    from servebench.endpoint_parity import endpoint_parity

    assert all(case.passed for case in endpoint_parity(stack) if case.candidate.startswith(target))
    assert run_cli("report", str(run["dir"])).returncode == 0
    markdown = (run["dir"] / "report.md").read_text()
    assert f"mlp {target}: rollout at 50 req/s offered" in markdown
    assert "v1 answers after that" in markdown and "-over-time.png" in markdown


def test_a_rollout_without_version_two_says_how_to_write_it(stack, tmp_path):
    result = run_cli("bench", "--state-dir", stack["state_dir"], "--scenario", "rollout",
                     "--model", "mlp", "--targets", "torchserve-rest",
                     "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "servebench export --model mlp --version 2" in result.stderr


def _log(rows: list[tuple[float, float, bool, str, int]]) -> RequestLog:
    """(sent, latency, success, failure kind, version) per request."""
    sent, latency, success, kinds, versions = zip(*rows, strict=True)
    end = np.asarray(sent) + np.asarray(latency)
    return RequestLog(end, np.asarray(latency), np.asarray(success, bool), list(kinds),
                      end, np.asarray(versions))  # fmt: skip


def test_step_figures_count_what_each_version_answered_and_when():
    log = _log([
        (100.0, 0.01, True, "", 1),
        (101.0, 0.01, True, "", 1),   # the trigger is at 101
        (101.5, 0.5, False, "HTTP 503", 0),
        (102.0, 0.01, True, "", 2),   # the first v2 answer, 1.01 s after the trigger
        (103.2, 0.01, True, "", 1),   # sent after "only v2" (103): a stale answer
        (104.0, 0.01, True, "", 2),
        (106.0, 0.01, True, "", 1),   # after the next step's trigger (105): not counted
        (106.5, 0.01, False, "wrong answer", 0),
    ])  # fmt: skip
    step = {"label": "rollout", "from": 1, "to": 2, "triggered_unix": 101.0, "done_unix": 103.0}
    figures = step_figures(step, log, until=105.0)
    assert figures["first_new_s"] == pytest.approx(1.01)
    assert figures["all_new_s"] == 2.0 and figures["old_after_all_new"] == 1
    assert figures["errors"] == {"HTTP 503": 1}
    assert answer_counts(log) == {"v1": 4, "v2": 2, "wrong": 1, "failed": 1, "requests": 8}


def test_a_killed_torchserve_worker_is_replaced_in_each_of_two_runs(stack, tmp_path):
    """`--repeat 2` of an operations scenario: two whole runs, each killing the worker that
    serves then, each measured on its own."""
    from servebench.backends.torchserve import worker_pids

    management = stack["backends"]["torchserve"]["endpoints"]["management"]
    before = worker_pids(management, "mlp")
    run = bench(stack, tmp_path / "out", "--scenario", "fault", "--fault", "worker", "--model",
                "mlp", "--targets", "torchserve-rest", "--duration", "10s", "--warmup", "2s",
                "--users", "2", "--no-limits", "--repeat", "2")  # fmt: skip
    (entry,) = run["results"]["targets"]
    assert run["results"]["params"]["runs"] == 2 and len(entry["rounds"]) == 2
    assert [window["index"] for window in entry["repetitions"]] == [0, 1]
    pids = []
    for figures in entry["rounds"]:
        fault = figures["fault"]
        assert fault["kind"] == "worker" and fault["injected_unix"], fault
        assert fault["recovered_after_s"] is not None and fault["recovered_after_s"] < 8, fault
        before_phase, after_phase = figures["phases"]
        assert before_phase["achieved_rps"] > 0 and after_phase["achieved_rps"] > 0
        pids.append(fault["pid"])
    # the first run killed the worker that served before; the second, its replacement
    assert pids[0] == before[0] and pids[1] != pids[0], pids
    assert worker_pids(management, "mlp") not in ([], before, [pids[1]])
    assert (run["dir"] / "mlp" / "torchserve-rest" / "run-2" / "locust_stats.csv").is_file()
    assert run_cli("report", str(run["dir"])).returncode == 0
    markdown = (run["dir"] / "report.md").read_text()
    assert "mlp torchserve-rest (run 2 of 2): worker killed" in markdown, markdown
