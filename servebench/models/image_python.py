"""The Python that travels in a .mar (the handler, the model's definitions) runs in the official
TorchServe image's interpreter, Python 3.9 (pytorch/torchserve:0.12.0-cpu), whatever this
machine runs. So every such file is parsed as 3.9 parses it, and checked for the one 3.10+
construct 3.9's parser accepts but its runtime does not: an `X | Y` annotation evaluated at
definition time (without `from __future__ import annotations`)."""

from __future__ import annotations

import ast
from pathlib import Path

IMAGE_PYTHON = (3, 9)  # pytorch/torchserve:0.12.0-cpu


def problem(path: Path) -> str | None:
    """Why ``path`` would fail under the image's Python, in one phrase; None when it would not."""
    source = path.read_text()
    try:
        tree = ast.parse(source, filename=str(path), feature_version=IMAGE_PYTHON)
    except SyntaxError as exc:
        return f"{path.name} line {exc.lineno}: {exc.msg}"
    if _postponed(tree):
        return None
    for node in ast.walk(tree):
        for annotation in _annotations(node):
            union = next((n for n in ast.walk(annotation) if _is_union(n)), None)
            if union is not None:
                return (f"{path.name} line {union.lineno}: an `X | Y` annotation is evaluated "
                        "at definition time and needs Python 3.10 (add `from __future__ import "
                        "annotations`)")  # fmt: skip
    return None


def _postponed(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )


def _annotations(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        arguments = node.args
        every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
        every += [a for a in (arguments.vararg, arguments.kwarg) if a]
        return [a.annotation for a in every if a.annotation] + (
            [node.returns] if node.returns else []
        )
    if isinstance(node, ast.AnnAssign):
        return [node.annotation]
    return []


def _is_union(node: ast.AST) -> bool:
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr)
