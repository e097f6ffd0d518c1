"""Processes that never run a model never load torch or TensorFlow: every Locust worker, the
report, validate and the command line's dispatch start in a fraction of the time."""

import subprocess
import sys

import pytest

from .conftest import REPO

BLOCK = (
    "import sys\n"
    "class Blocked:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'tensorflow'):\n"
    "            raise ImportError(f'{name} is blocked in this test')\n"
    "sys.meta_path.insert(0, Blocked())\n"
)


@pytest.mark.parametrize(
    "module",
    ["servebench.load.users", "servebench.report", "servebench.validate", "servebench.cli",
     "servebench.commands", "servebench.stack", "servebench.bench"],
)  # fmt: skip
def test_imports_without_torch_or_tensorflow(module):
    result = subprocess.run(
        [sys.executable, "-c", BLOCK + f"import {module}"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_block_does_block():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK + "import servebench.export.exporter"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and "torch is blocked" in result.stderr
