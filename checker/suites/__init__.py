"""The hidden suites, one module per part of the course.

Each module declares its cases with `checker.cases.probe`. Importing a suite
never imports student code: probes reach it only when they run.
"""

from __future__ import annotations

import importlib
import sys

from .. import manifest, seeds
from ..cases import REGISTRY

# The grading seed the imported suites drew their inputs from (seeds.py).
_imported_with: int | None = None


def load(exercise_ids: list[str]) -> None:
    """Import the suites that hold the cases of these exercises.

    Their inputs are built at import, from the grading seed in force: when
    it changed since the suites were imported, they are imported afresh.
    """
    global _imported_with
    if seeds.current() != _imported_with:
        forget_imported_suites()
        _imported_with = seeds.current()
    for part in sorted({manifest.get(exercise_id).part for exercise_id in exercise_ids}):
        importlib.import_module(f"{__name__}.{suite_module(part)}")


def forget_imported_suites() -> None:
    """Drop every imported suite and its cases, so that the next load imports them again."""
    REGISTRY.clear()
    for name in [name for name in sys.modules if name.startswith(f"{__name__}.")]:
        del sys.modules[name]


def suite_module(part: str) -> str:
    return "bonus" if part == "bonus" else f"part{part}"
