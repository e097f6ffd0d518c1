"""The README's commands as written: the reference matches the parser, every `servebench` line
parses, and the Locust lines run against the real stack."""

import inspect
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from servebench.cli import build_parser, command_arguments, command_function
from servebench.docs import README, command_reference, readme_block

from .conftest import REPO


def _bash_lines() -> list[str]:
    """Every command in the README's ```bash blocks, split at &&, without comments."""
    lines, inside = [], False
    for raw in README.read_text().splitlines():
        line = raw.strip()
        if line.startswith("```"):
            inside = line == "```bash"
            continue
        if inside and line:
            command = line.split(" #")[0].rstrip(" &")
            lines += [part.strip() for part in command.split("&&")]
    return lines


def _servebench_lines() -> list[list[str]]:
    found = []
    for line in _bash_lines():
        words = shlex.split(line)
        if words and Path(words[0]).name == "servebench":
            found.append(words[1:])
    return found


def test_the_command_reference_matches_the_parser():
    assert readme_block(README.read_text()) == command_reference(), (
        "README.md's command reference is stale: run `.venv/bin/python -m servebench.docs`"
    )


@pytest.mark.parametrize("words", _servebench_lines(), ids=" ".join)
def test_every_servebench_line_in_the_readme_parses(words):
    args = build_parser().parse_args(words)  # a usage error exits 2 here
    function = command_function(args.command)
    assert set(command_arguments(function, args)) == set(inspect.signature(function).parameters)


def test_the_readme_shows_every_command():
    shown = {words[0] for words in _servebench_lines()}
    assert shown >= {"export", "parity", "up", "bench", "calibrate", "cold-start", "report",
                     "validate", "down", "demo", "probe-bad-inputs"}  # fmt: skip


def test_the_readme_locust_lines_run_as_written(stack, tmp_path):
    commands = [line for line in _bash_lines() if line.startswith(".venv/bin/locust ")]
    assert len(commands) == 2
    for index, command in enumerate(commands):
        words = shlex.split(command)
        target = words[words.index("--sb-target" if "--sb-target" in words else "--tags") + 1]
        log_dir = tmp_path / str(index)
        # Only the stack's place differs from a user's: this one was started by the test.
        extra = ["--sb-stack", str(Path(stack["state_dir"]) / "stack.json")]
        extra += ["--sb-request-log", str(log_dir)]
        words[0] = str(Path(sys.executable).with_name("locust"))  # the venv's, wherever it is
        result = subprocess.run(
            [*words, *extra], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "No tasks defined" not in result.stderr
        rows = [
            line.split(",")
            for f in log_dir.glob("requests-*.csv")
            for line in f.read_text().splitlines()[1:]
        ]
        assert rows and {row[2] for row in rows} == {target}
        assert {row[4] for row in rows} == {"success"}
