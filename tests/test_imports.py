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


def _module_imports() -> dict[str, set[str]]:
    """servebench module -> the servebench modules it imports at its top level."""
    import ast

    root = REPO / "servebench"
    names = {}
    for path in root.rglob("*.py"):
        if "generated" not in path.parts:
            parts = path.relative_to(REPO).with_suffix("").parts
            names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        imported = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("servebench"):
                imported.add(node.module)
                imported |= {f"{node.module}.{a.name}" for a in node.names} & names.keys()
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names if a.name.startswith("servebench")}
        graph[name] = imported & names.keys()
    return graph


def test_no_import_cycle():
    graph = _module_imports()
    assert graph["servebench.cli"] and graph["servebench.report"]  # the scan found imports
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        for imported in sorted(graph[name]):
            if imported in path:
                cycles.append(path[path.index(imported) :] + [imported])
            elif imported not in done:
                done.add(imported)
                visit(imported, [*path, imported])

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            done.add(name)
            visit(name, [name])
    assert cycles == []
