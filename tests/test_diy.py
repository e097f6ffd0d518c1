"""The diy baseline: its ONNX artifact, its server started by `up --with-diy` and talked to over
the wire, and its place beside the verdict, never in it."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from servebench.backends.process import alive
from servebench.clients import ClientError, make_client
from servebench.export.layout import ArtifactLayout
from servebench.export.parity import TOLERANCE
from servebench.metrics.exporter import wait_until_scraped
from servebench.metrics.promql import query
from servebench.models import MODELS
from servebench.payloads import sample_batch
from servebench.report.verdict import blockers, findings, verdict

from .conftest import bench, run_cli, stack_pids
from .test_verdict import clear_pair, results, target

MLP = MODELS["mlp"]


@pytest.fixture(scope="module")
def mlp_artifacts(artifacts) -> ArtifactLayout:
    """The session's artifacts, exported once (mlp with the same seeded weights an export of mlp
    alone writes); the diy stack serves mlp alone, which keeps this module quick."""
    return artifacts


@pytest.fixture(scope="module")
def diy_stack(mlp_artifacts, tmp_path_factory):
    """The real `servebench up --with-diy`, stopped by `servebench down` after."""
    state_dir = tmp_path_factory.mktemp("diy-state")
    result = run_cli("up", "--model", "mlp", "--with-diy", "--artifacts",
                     str(mlp_artifacts.root), "--state-dir", str(state_dir))  # fmt: skip
    if result.returncode != 0:
        run_cli("down", "--state-dir", str(state_dir))  # whatever did start
        pytest.fail(result.stdout + result.stderr)
    assert "diy" in result.stdout and "REST only" in result.stdout
    record = json.loads((state_dir / "stack.json").read_text())
    record["state_dir"] = str(state_dir)
    pids = stack_pids(record)
    yield record
    down = run_cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert "diy" in down.stdout
    assert not [pid for pid in pids if alive(pid)]  # a zombie has exited: PID 1 reaps it


def test_export_writes_onnx_with_a_dynamic_batch_and_records_its_parity(mlp_artifacts):
    import onnxruntime

    manifest = json.loads(mlp_artifacts.manifest("mlp").read_text())
    onnx = [case for case in manifest["parity"] if "onnxruntime" in case["candidate"]]
    assert [case["batch"] for case in onnx] == [1, 8]
    assert all(case["passed"] and case["max_abs_diff"] <= TOLERANCE for case in onnx)
    assert manifest["artifacts"]["onnx"]["path"] == str(mlp_artifacts.onnx("mlp"))
    assert manifest["versions"]["onnxruntime"]
    session = onnxruntime.InferenceSession(str(mlp_artifacts.onnx("mlp")))
    (model_input,) = session.get_inputs()
    assert model_input.name == "input" and isinstance(model_input.shape[0], str)
    assert model_input.shape[1:] == [64]


def test_the_diy_server_runs_on_the_servers_cpus_and_threads(diy_stack):
    diy = diy_stack["backends"]["diy"]
    assert diy["implementation"].startswith("diy starlette")
    assert "onnxruntime" in diy["implementation"]
    assert diy["settings"]["intra_op_threads"] == diy_stack["server_threads"]
    assert diy["settings"]["cpus"] == diy_stack["server_cpus"]
    tasks = os.listdir(f"/proc/{diy['pid']}/task")
    assert {tuple(sorted(os.sched_getaffinity(int(t)))) for t in tasks} == {
        tuple(diy_stack["server_cpus"])
    }
    assert diy["endpoints"]["rest"].startswith("http://127.0.0.1:")


def test_endpoint_parity_includes_diy_and_matches_torch(diy_stack):
    from servebench.endpoint_parity import endpoint_parity

    cases = endpoint_parity(diy_stack)
    diy = [case for case in cases if case.candidate.startswith("diy-rest")]
    assert [case.batch for case in diy] == [1, 8]
    assert all(case.passed for case in diy), [case.as_dict() for case in diy]
    assert len(cases) == 2 * 5  # the four compared endpoints and the baseline's
    with make_client("diy-rest", diy_stack, MLP, json=True) as client:
        raw = make_client("diy-rest", diy_stack, MLP).predict(sample_batch(MLP, 3))
        assert np.array_equal(client.predict(sample_batch(MLP, 3)), raw)  # both encodings


def test_bad_input_gets_4xx_saying_what_was_wrong_and_the_server_keeps_serving(diy_stack):
    from servebench.probe import MUST_REJECT, format_matrix, probe

    results = probe(diy_stack, MLP)
    diy = {r.case: r for r in results if r.target == "diy-rest"}
    assert set(diy) >= MUST_REJECT
    for case, result in diy.items():
        assert result.ok_after, case
        assert result.problem is None, (case, result)
        assert result.status.startswith("HTTP 4"), (case, result.status)
    assert diy["NaN/Inf"].answered_by == "model code"
    assert "NaN or Infinity" in diy["NaN/Inf"].message
    assert "above the maximum of 64" in diy["batch above maximum"].message
    assert diy["body over size limit"].status == "HTTP 413"
    assert diy["unknown model"].status == "HTTP 404"
    assert "diy-rest" in format_matrix(results).splitlines()[0]
    with make_client("diy-rest", diy_stack, MLP) as client:
        with pytest.raises(ClientError, match="expected float32 of shape"):
            client.predict(np.zeros((1, 63), np.float32))
        assert client.predict(sample_batch(MLP, 2)).shape == (2, 10)


def _counter(text: str, line_start: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(line_start))


def test_metrics_count_requests_and_prometheus_scrapes_them(diy_stack):
    metrics = diy_stack["backends"]["diy"]["endpoints"]["metrics"]
    before = requests.get(metrics, timeout=5).text
    with make_client("diy-rest", diy_stack, MLP) as client:
        for _ in range(5):
            client.predict(sample_batch(MLP, 1))
        with pytest.raises(ClientError):
            client.send(b"", "application/octet-stream")
    after = requests.get(metrics, timeout=5).text
    ok = 'diy_requests_total{model="mlp",status="200"}'
    bad = 'diy_requests_total{model="mlp",status="400"}'
    assert _counter(after, ok) - _counter(before, ok) == 5
    assert _counter(after, bad) - _counter(before, bad) == 1
    histogram = 'diy_request_latency_seconds_count{model="mlp"}'
    assert _counter(after, histogram) - _counter(before, histogram) == 5
    # The stack's Prometheus scrapes it every second, labelled with what served
    prometheus = diy_stack["monitoring"]["prometheus"]["endpoints"]["http"]
    assert wait_until_scraped(prometheus, int(metrics.rsplit(":", 1)[1].split("/")[0]))
    scraped, deadline = [], time.monotonic() + 10
    while time.monotonic() < deadline and not scraped:
        scraped = query(prometheus, f"{ok} >= {_counter(after, ok)}")
        time.sleep(0.5)
    (series,) = scraped
    assert series["metric"]["job"] == "diy"
    assert series["metric"]["implementation"].startswith("diy starlette")


def test_bench_measures_diy_beside_a_server_and_the_report_shows_it(diy_stack, tmp_path):
    from servebench.report import write

    run = bench(diy_stack, tmp_path / "results", "--model", "mlp", "--targets",
                "torchserve-rest,diy-rest", "--duration", "2s", "--warmup", "1s", "--repeat",
                "1", "--users", "1", "--no-limits", "--calibrate-seconds", "0")  # fmt: skip
    diy = next(entry for entry in run["results"]["targets"] if entry["target"] == "diy-rest")
    assert diy["implementation"] == diy_stack["backends"]["diy"]["implementation"]
    assert diy["summary"]["achieved_rps"]["median"] > 0
    assert diy["repetitions"][0]["errors"] == {}
    assert diy["repetitions"][0]["server_side"]["requests"] > 0  # its own histogram, scraped
    assert "diy-rest" in run["stdout"]
    write(run["dir"], ["md"])
    section = (run["dir"] / "report.md").read_text().split("## The diy baseline")[1]
    assert "| mlp | diy-rest |" in section and "1 (the baseline)" in section
    assert "| mlp | torchserve-rest |" in section.split("##")[0]


def test_bench_refuses_diy_where_it_cannot_be_measured(diy_stack, tmp_path):
    from servebench.commands import BenchOptions, measure
    from servebench.errors import UsageError

    state_dir = Path(diy_stack["state_dir"])
    with pytest.raises(UsageError, match="verdict leaves diy-rest out"):
        measure(BenchOptions(targets="diy-rest", aa=True, state_dir=state_dir, out=tmp_path))
    without = {**diy_stack, "backends": {
        k: v for k, v in diy_stack["backends"].items() if k != "diy"}}  # fmt: skip
    (tmp_path / "stack.json").write_text(json.dumps(without))
    with pytest.raises(UsageError, match="no diy-rest; start it with `servebench up --with-diy`"):
        measure(BenchOptions(targets="diy-rest", state_dir=tmp_path, out=tmp_path))
    assert list(tmp_path.iterdir()) == [tmp_path / "stack.json"]  # nothing was run


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        ("services/prometheus/prometheus.compose.yml", "port: 8000", "port: 8001",
         "job diy should scrape diy:8000/metrics"),
        ("compose.yaml", '"127.0.0.1:${DIY_PORT:-8000}:8000"', '"${DIY_PORT:-8000}:8000"',
         "diy publishes a port beyond 127.0.0.1"),
        ("services/harness/stack.compose.diy.json", '"http://diy:8000"', '"http://diy:80"',
         "diy endpoints differ"),
        ("services/harness/stack.compose.diy.json", '"servebench-tfserving-1"', '"tfserving"',
         "differs from stack.compose.json"),
    ],
)  # fmt: skip
def test_validate_keeps_the_compose_diy_service_consistent(tmp_path, path, old, new, message):
    import shutil

    from servebench.validate import check_consistency

    from .conftest import REPO

    for name in ("compose.yaml", "services", "k8s"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, tmp_path / name)
    assert check_consistency(tmp_path)[1] == []
    text = (tmp_path / path).read_text()
    assert old in text
    (tmp_path / path).write_text(text.replace(old, new, 1))
    assert message in [finding.message for finding in check_consistency(tmp_path)[1]]


def with_diy(diy_rps, diy_warnings=()):
    """The clear TorchServe-vs-TF Serving pair, and a diy arm far ahead of both."""
    diy = target("mlp", "diy-rest", [diy_rps - 10, diy_rps, diy_rps + 10], [1, 0.9, 1.1],
                 diy_warnings)  # fmt: skip
    run = results([*clear_pair(), diy])
    run["implementations"]["diy"] = "diy starlette 1.10.0 + onnxruntime 1.32.0"
    return run


def test_the_verdict_never_names_diy_nor_is_withheld_because_of_it():
    bad_inputs = {"results": [
        {"target": "diy-rest", "status": "HTTP 500", "problem": "invalid input was accepted"},
        {"target": "torchserve-rest", "status": "HTTP 400", "problem": None},
        {"target": "tfserving-rest", "status": "HTTP 400", "problem": None},
    ]}  # fmt: skip
    run = with_diy(5000, ["the load generator was near its ceiling (bottleneck)"])
    run["parity"]["endpoints"].append(
        {"model": "mlp", "candidate": "diy-rest [diy]", "batch": 1, "passed": False}
    )
    reasons, rows = verdict(run, None, bad_inputs)
    assert reasons == []
    assert {row.winner for row in rows} <= {"torchserve", "tfserving", None}
    assert all("diy" not in row.text for row in rows)
    named = {row.criterion: row.winner for row in rows}
    assert named["throughput"] == "torchserve"  # the pair's own result, diy's 5000/s aside
    assert named["robustness to bad input"] is None  # diy's broken answer is not scored
    assert findings(run, None, bad_inputs) == findings(results(clear_pair()), None, bad_inputs)


def test_a_run_of_diy_alone_names_no_winner():
    run = with_diy(800)
    run["targets"] = run["targets"][2:]
    assert blockers(run) == []
    assert findings(run, None, None) == []


def test_cold_starts_of_the_two_servers_still_count_beside_diy(tmp_path):
    from servebench.bench import cold_start

    servers = {"torchserve": "torchserve 0.12.0", "tfserving": "tfserving-emulator"}
    record = {"servers": {name: {"implementation": impl} for name, impl in servers.items()}}
    cold_start.save(tmp_path, record)
    stack = {"backends": {name: {"implementation": impl} for name, impl in servers.items()}}
    stack["backends"]["diy"] = {"implementation": "diy starlette+onnxruntime 1.32.0"}
    assert cold_start.matching(tmp_path, stack) == (record, None)
    stack["backends"]["tfserving"]["implementation"] = "tensorflow_model_server 2.20.0"
    assert cold_start.matching(tmp_path, stack)[0] is None
