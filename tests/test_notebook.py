"""The notebook path, run through a real Jupyter kernel (nbclient).

A notebook defines Part 1's functions in its cells, imports nothing from
exercises/, and checks exercise 1.3 with only those definitions: `check("1.3")`
finds multiply_back0/1 and unbroadcast, which 1.3 builds on, in the
notebook's namespace. A failing check's panel speaks the notebook's language
(`hint("1.1")`, not `make`), and a class defined in a cell is checked too.

Skipped when nbclient, nbformat or ipykernel is missing, or when no kernel
can start here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from checker import KIT_ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def run_notebook(cells: list[str], tmp_path: Path) -> list[str]:
    """Execute the cells in a fresh kernel started in the kit's folder; each cell's text output."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(textwrap.dedent(cell)) for cell in cells]
    client = nbclient.NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(KIT_ROOT)}},
    )
    client.execute()
    texts = []
    for cell in notebook.cells:
        text = ""
        for output in cell.outputs:
            text += output.get("text", "") + output.get("data", {}).get("text/plain", "")
        texts.append(text)
    return texts


@pytest.fixture(scope="module")
def kernel_starts(tmp_path_factory) -> None:
    try:
        run_notebook(["1 + 1"], tmp_path_factory.mktemp("probe"))
    except Exception as error:  # no kernel here (missing kernelspec, no ports, ...): nothing to test
        pytest.skip(f"no Jupyter kernel can start here: {type(error).__name__}: {error}")


SETUP = """
    import os
    os.environ["BACKPROP_CHECKER_STATE"] = {state!r}
    import numpy as np
    from checker import check, hint
"""

UNBROADCAST = """
    def unbroadcast(broadcasted, original):
        summed = broadcasted.sum(axis=tuple(range(broadcasted.ndim - original.ndim)))
        ones = tuple(dim for dim, size in enumerate(original.shape) if size == 1)
        return summed.sum(axis=ones, keepdims=True)
"""

MULTIPLY = """
    def scaled(grad_out, factor):
        return grad_out * factor

    def multiply_back0(grad_out, out, x, y):
        return unbroadcast(scaled(grad_out, y), x)

    def multiply_back1(grad_out, out, x, y):
        return unbroadcast(scaled(grad_out, x), y)
"""


def test_check_takes_the_exercise_and_what_it_builds_on_from_the_notebook(kernel_starts, tmp_path):
    texts = run_notebook(
        [
            SETUP.format(state=str(tmp_path)),
            UNBROADCAST,
            MULTIPLY,
            'alone = check("1.3", show=False)\nprint(alone.passed, alone.result.impl)',
            'named = check("1.3", multiply_back0, multiply_back1, show=False)\nprint(named.passed)',
        ],
        tmp_path,
    )
    passed, impl = texts[3].split(maxsplit=1)
    assert passed == "True", texts[3]
    assert "unbroadcast" in impl and "multiply_back0" in impl and "scaled" in impl  # the helper came along
    assert texts[4].strip() == "True", texts[4]


def test_a_failing_check_in_a_notebook_suggests_notebook_commands(kernel_starts, tmp_path):
    texts = run_notebook(
        [
            SETUP.format(state=str(tmp_path)),
            "def log_back(grad_out, out, x):\n    return grad_out * x\n",
            'checked = check("1.1")',
            'hint("1.1")',
        ],
        tmp_path,
    )
    assert "1.1 log_back: failed" in texts[2], texts[2]
    assert 'hint("1.1")' in texts[2] and "make " not in texts[2], texts[2]
    assert "Hint 1 of" in texts[3] and 'hint("1.1")' in texts[3] and "make " not in texts[3], texts[3]


def test_a_class_defined_in_a_cell_is_checked(kernel_starts, tmp_path):
    texts = run_notebook(
        [
            SETUP.format(state=str(tmp_path)),
            "from exercises.core import Tensor\n\n"
            "class Parameter(Tensor):\n"
            "    def __init__(self, tensor, requires_grad=True):\n"
            "        super().__init__(tensor.array, requires_grad=requires_grad)\n",
            'passed = check("4.1", Parameter, show=False)\nprint(passed.passed)',
        ],
        tmp_path,
    )
    assert texts[2].strip() == "True", texts[2]
