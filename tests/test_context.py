"""What bench keeps beside its measurements: only the bad-input matrix of the same stack."""

import json
from types import SimpleNamespace

from servebench.bench.results import keep_context
from servebench.stack import stack_identity


def a_stack(tfserving: str, started: str) -> dict:
    backend = {"pid": 0, "settings": {"container": "c1"}, "implementation": ""}
    return {
        "started_at": started,
        "artifacts": "/nowhere",
        "backends": {
            "torchserve": {**backend, "implementation": "torchserve 0.12.0", "pid": 41},
            "tfserving": {**backend, "implementation": tfserving},
        },
    }


def keep(tmp_path, matrix_stack: dict, bench_stack: dict) -> tuple[list[str], bool]:
    state = tmp_path / "state"
    state.mkdir()
    matrix = {"schema_version": 1, "stack": stack_identity(matrix_stack), "results": []}
    (state / "bad-inputs.json").write_text(json.dumps(matrix))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    warnings = keep_context(SimpleNamespace(models=[], state_dir=state), bench_stack, run_dir)
    return warnings, (run_dir / "context" / "bad-inputs.json").is_file()


def test_an_earlier_stacks_matrix_is_left_out_and_said(tmp_path):
    emulated = a_stack("tfserving-emulator", "2026-11-27T10:00:00+0000")
    real = a_stack("tensorflow_model_server 2.20.0", "2026-11-27T11:00:00+0000")
    warnings, copied = keep(tmp_path, emulated, real)
    assert not copied
    assert len(warnings) == 1 and "made against another stack" in warnings[0]


def test_the_same_stacks_matrix_is_kept(tmp_path):
    stack = a_stack("tfserving-emulator", "2026-11-27T10:00:00+0000")
    assert keep(tmp_path, stack, stack) == ([], True)
