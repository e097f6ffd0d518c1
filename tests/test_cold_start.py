"""`servebench cold-start`: each real server (and the emulator) started alone, three times."""

import json

from servebench.bench.cold_start import matching
from servebench.report.verdict import findings

from .conftest import run_cli


def test_each_server_starts_alone_three_times_and_the_verdict_compares_them(artifacts, tmp_path):
    result = run_cli("cold-start", "--model", "mlp", "--artifacts", str(artifacts.root),
                     "--state-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / "cold-starts.json").read_text())
    assert record["models"] == ["mlp"] and record["repeat"] == 3
    assert record["servers"]["tfserving"]["implementation"] == "tfserving-emulator"
    for name, server in record["servers"].items():
        assert len(server["starts"]) == 3, name
        for start in server["starts"]:
            assert 0 < start["alive_s"] <= start["ready_s"] < 300
        assert server["ready_s"]["ci95"]["n"] == 3
    assert "torchserve (torchserve 0.12.0): ready in" in result.stdout
    # Nothing is left running: every start was stopped by its PID.
    assert "servebench-cold-" not in _process_table()

    (ready,) = [f for f in findings({"cold_starts": record}, None, None)]
    assert ready.criterion == "time to ready" and ready.scope.startswith("cold start alone, 3+")


def test_cold_starts_of_other_servers_are_left_out(tmp_path):
    record = {"servers": {"torchserve": {"implementation": "torchserve 0.12.0"},
                          "tfserving": {"implementation": "tfserving-emulator"}}}  # fmt: skip
    (tmp_path / "cold-starts.json").write_text(json.dumps(record))
    real = {"backends": {"torchserve": {"implementation": "torchserve 0.12.0"},
                         "tfserving": {"implementation": "TF Serving 2.20"}}}  # fmt: skip
    kept, why = matching(tmp_path, real)
    assert kept is None and "timed other servers" in why
    same = {"backends": {name: dict(s) for name, s in record["servers"].items()}}
    assert matching(tmp_path, same) == (record, None)


def _process_table() -> str:
    import psutil

    return "\n".join(" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))
