"""Graduated hints: `make hint EX=1.2` shows one more hint each time.

The hints themselves live in the manifest, as questions that each get a
little closer to the answer. How many of them a student has seen is
remembered between calls in a small JSON file (`.checker/hints.json` at the
kit's root, git-ignored), so that asking again moves on by one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from . import KIT_ROOT, manifest
from .manifest import Exercise

# Tests (and anyone who wants the state elsewhere) can point this at another folder.
STATE_DIR_VARIABLE = "BACKPROP_CHECKER_STATE"


def state_path() -> Path:
    folder = os.environ.get(STATE_DIR_VARIABLE) or str(KIT_ROOT / ".checker")
    return Path(folder) / "hints.json"


def load_state(path: Path | None = None) -> dict[str, Any]:
    """{"seen": {exercise id: hints shown}, "last": the exercise asked about last}; empty when unreadable."""
    path = path or state_path()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"seen": {}, "last": None}
    if not isinstance(state, dict) or not isinstance(state.get("seen"), dict):
        return {"seen": {}, "last": None}
    return state


def save_state(state: dict[str, Any], path: Path | None = None) -> None:
    from .results import write_json_atomically

    write_json_atomically(path or state_path(), state)


@dataclass
class HintStep:
    """What one `hint` call shows: the hints seen so far, the newest last."""

    exercise: Exercise
    shown: int  # how many hints are on screen now
    new: bool  # whether this call revealed one (False once they have all been seen)

    @property
    def total(self) -> int:
        return len(self.exercise.hints)

    @property
    def finished(self) -> bool:
        return self.shown >= self.total


def choose_exercise(words: list[str], state: dict[str, Any]) -> Exercise:
    """The one exercise a hint is for: named by `words` (like `check`), else the last one asked about.

    Raises manifest.UnknownExercise when the words name none, or several.
    """
    if not words:
        last = state.get("last")
        if isinstance(last, str) and last in {exercise.id for exercise in manifest.EXERCISES}:
            return manifest.get(last)
        raise manifest.UnknownExercise("which exercise? For example: make hint EX=1.2 (or make hint EX=unbroadcast)")
    chosen = manifest.select(words)
    if len(chosen) != 1:
        ids = ", ".join(exercise.id for exercise in chosen)
        raise manifest.UnknownExercise(
            f"{' '.join(words)!r} names several exercises ({ids}): ask for one, e.g. make hint EX={chosen[0].id}"
        )
    return chosen[0]


def next_hint(words: list[str], *, reset: bool = False, path: Path | None = None) -> HintStep:
    """Reveal one more hint of the chosen exercise and remember it."""
    state = load_state(path)
    exercise = choose_exercise(words, state)
    seen = state["seen"]
    already = 0 if reset else _count(seen.get(exercise.id))
    shown = min(already + 1, len(exercise.hints))
    seen[exercise.id] = shown
    state["last"] = exercise.id
    try:
        save_state(state, path)
    except OSError:
        pass  # a read-only kit still shows the hint; it just will not move on
    return HintStep(exercise, shown, new=shown > already)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def render(step: HintStep, commands: Any = None) -> RenderableType:
    """The hints seen so far, the newest one bright, and what to do next
    (commands: how to spell them, report.TERMINAL or report.NOTEBOOK)."""
    from .report import TERMINAL

    commands = commands or TERMINAL
    exercise = step.exercise
    if not exercise.hints:
        body = Text(
            f"There are no hints for {exercise.id} yet. Read the docstring of {', '.join(exercise.functions)} in exercises/{exercise.module}.py."
        )
        return Panel(body, title=f"Hints for {exercise.label}", title_align="left", expand=False)
    lines = Text()
    for number, hint in enumerate(exercise.hints[: step.shown], start=1):
        newest = number == step.shown and step.new
        lines.append(f"{number}. ", style="bold" if newest else "dim")
        lines.append(hint, style="bold" if newest else "dim")
        lines.append("\n")
    if step.finished:
        lines.append(
            "\nNo more hints: that was the last one. Reread the docstring and the lesson "
            f"({exercise.lesson}), try a tiny example by hand, then run {commands.check(exercise.id)}.",
            style="italic",
        )
        lines.append(f"\nTo see them from the start again: {commands.hint_reset(exercise.id)}", style="dim")
    else:
        left = step.total - step.shown
        lines.append(
            f"\nHint {step.shown} of {step.total}. Still stuck? Ask again ({commands.hint(exercise.id)}) "
            f"for the next one ({left} left).",
            style="dim",
        )
    return Group(Panel(lines, title=f"Hints for {exercise.label}", title_align="left", expand=False))
