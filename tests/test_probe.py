"""The bad-input matrix against the running stack."""

import json

from servebench.probe import CASES, TARGETS

from .conftest import run_cli


def test_bad_input_matrix(stack, tmp_path):
    out = tmp_path / "bad.json"
    result = run_cli(
        "probe-bad-inputs", "--model", "mlp", "--state-dir", stack["state_dir"], "--out", str(out)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(out.read_text())
    results = {(r["case"], r["target"]): r for r in record["results"]}
    assert len(results) == len(CASES) * len(TARGETS)
    assert record["implementations"]["tfserving"] == "tfserving-emulator"

    for r in results.values():
        assert r["ok_after"], r  # the server kept serving
        assert r["problem"] is None, r
        if r["answered_by"] == "model code":
            assert r["status"] in ("HTTP 400", "INVALID_ARGUMENT"), r
            assert "expected float32 of shape [N,64]" in r["message"]

    for case in ("NaN/Inf", "batch above maximum"):
        assert {results[(case, t)]["answered_by"] for t in TARGETS} == {"model code"}
    for target in ("torchserve-rest", "torchserve-grpc"):
        for case in (
            "empty body",
            "malformed JSON",
            "strings instead of numbers",
            "wrong element count",
        ):
            assert results[(case, target)]["answered_by"] == "model code"
    # the servers' own answers, reported as they are
    assert results[("unknown model", "torchserve-rest")]["status"] == "HTTP 404"
    assert results[("unknown model", "tfserving-grpc")]["status"] == "NOT_FOUND"
    assert results[("body over size limit", "torchserve-rest")]["status"] == "HTTP 413"
    assert results[("wrong content type", "tfserving-rest")]["answered_by"] == "accepted"
    assert "NaN/Inf" in result.stdout and "(model code)" in result.stdout
