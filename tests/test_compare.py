"""`servebench compare`: two real run folders judged by the verdict's rules, and a pair that
differs in what must be equal refused in one line."""

import json
import shutil

from .conftest import bench, run_cli


def test_two_real_runs_are_compared_and_a_mismatched_pair_is_refused(steady, stack, tmp_path):
    other = bench(stack, tmp_path / "b", "--targets", "torchserve-rest", "--model", "mlp",
                  "--duration", "3s", "--warmup", "2s", "--repeat", "2", "--users", "2",
                  "--no-limits")  # fmt: skip
    first, second = steady["dir"], other["dir"]
    result = run_cli("compare", str(first), str(second), "--out", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"run A ({first.name}) vs run B ({second.name})"
    for criterion in ("throughput", "tail latency (p99)", "memory under load"):
        (line,) = [line for line in lines if line.startswith(f"mlp, torchserve-rest {criterion}:")]
        words = ("by", "equivalent", "under 5%", "inconclusive", "not measured")
        assert any(word in line for word in words), line
    assert "mlp, torchserve-rest serving efficiency: not measured" in result.stdout
    markdown = (tmp_path / "cmp" / "compare.md").read_text()
    assert "run A" in markdown and "| throughput |" in markdown
    assert (tmp_path / "cmp" / "compare.html").is_file()

    changed = tmp_path / "changed" / second.name
    shutil.copytree(second, changed)
    manifest = changed / "context" / "artifact-mlp.json"
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(record | {"weights_sha256": "0" * 64}))
    refused = run_cli("compare", str(first), str(changed), "--out", str(tmp_path / "no"))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "differ in the weights of mlp" in refused.stderr and "--label" in refused.stderr
    labelled = run_cli("compare", str(first), str(changed), "--label", "retrained weights",
                       "--out", str(tmp_path / "labelled"))  # fmt: skip
    assert labelled.returncode == 0, labelled.stderr
    text = (tmp_path / "labelled" / "compare.md").read_text()
    assert "as labelled: retrained weights" in text and "the weights of mlp" in text
