"""Everything that goes into a .mar must run on the official TorchServe image's Python 3.9."""

import shutil

import pytest

from servebench.errors import UsageError
from servebench.export.torchserve import HANDLER
from servebench.models import TORCH_DEFS, image_python
from servebench.models.custom import describe_model_file

MATCH = """

def kind(value):
    match value:
        case 0:
            return "zero"
    return "other"
"""


def test_the_files_a_mar_carries_parse_as_python_3_9():
    assert image_python.IMAGE_PYTHON == (3, 9)
    for source in (HANDLER, TORCH_DEFS):
        assert image_python.problem(source) is None, source


def test_an_injected_match_statement_is_caught(tmp_path):
    handler = tmp_path / "handler.py"
    shutil.copyfile(HANDLER, handler)
    handler.write_text(handler.read_text() + MATCH)
    found = image_python.problem(handler)
    assert found and "handler.py line" in found and "3.10" in found, found


def test_a_runtime_union_annotation_is_caught_unless_postponed(tmp_path):
    defs = tmp_path / "defs.py"
    defs.write_text("def width(x: int | None) -> int:\n    return x or 0\n")
    found = image_python.problem(defs)
    assert found and "defs.py line 1" in found and "from __future__ import annotations" in found
    defs.write_text("from __future__ import annotations\n\n" + defs.read_text())
    assert image_python.problem(defs) is None


def test_export_model_file_refuses_a_file_the_image_cannot_run_in_one_line(tmp_path):
    model = tmp_path / "net.py"
    model.write_text("import torch\n\n\nclass Net(torch.nn.Linear):\n    def __init__(self):\n"
                     "        super().__init__(4, 2)\n" + MATCH)  # fmt: skip
    with pytest.raises(UsageError) as refused:
        describe_model_file(model, None, (4,), "net", 1e-4)
    message = str(refused.value)
    assert "\n" not in message and "net.py line" in message and "Python 3.9" in message
