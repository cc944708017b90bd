"""The hidden suites, one module per part of the course.

Each module declares its cases with `checker.cases.probe`. Importing a suite
never imports student code: probes reach it only when they run.
"""

from __future__ import annotations

import importlib

from .. import manifest


def load(exercise_ids: list[str]) -> None:
    """Import the suites that hold the cases of these exercises."""
    for part in sorted({manifest.get(exercise_id).part for exercise_id in exercise_ids}):
        importlib.import_module(f"{__name__}.{suite_module(part)}")


def suite_module(part: str) -> str:
    return "bonus" if part == "bonus" else f"part{part}"
