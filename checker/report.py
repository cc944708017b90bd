"""The report: results in, rich renderables out. Printing happens in cli.py.

A table of the exercises in course order (status, id, title, points), an
overall progress bar, and a panel for the first exercise that needs work,
with its message and how to get a hint. On a console without colour (not a
terminal, or NO_COLOR set) the same renderables come out as plain text.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .results import CheckResult, ExerciseResult

GLYPHS = {
    "passed": ("✓", "green"),
    "failed": ("✗", "red"),
    "not_started": ("·", "dim"),
    "error": ("!", "magenta"),
    "timeout": ("⧗", "yellow"),
}

STATUS_WORDS = {
    "passed": "passed",
    "failed": "failed",
    "not_started": "not started",
    "error": "error",
    "timeout": "timed out",
}


def make_console(**options: object) -> Console:
    """The console the report prints on: rich's own choice of colour and width."""
    return Console(highlight=False, **options)


def render(result: CheckResult) -> RenderableType:
    parts: list[RenderableType] = [exercise_table(result), progress(result)]
    focus = first_to_fix(result)
    if focus is not None:
        parts.append(focus_panel(focus))
    return Group(*parts)


def exercise_table(result: CheckResult) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=f"Backprop kit: {result.impl}", title_justify="left")
    table.add_column("", width=1, no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("exercise")
    table.add_column("status", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    for exercise_result in result.exercises:
        glyph, style = GLYPHS[exercise_result.status]
        exercise = exercise_result.exercise
        title = exercise.title + ("  (bonus)" if exercise.bonus else "")
        table.add_row(
            Text(glyph, style=style),
            exercise.id,
            title,
            Text(STATUS_WORDS[exercise_result.status], style=style),
            f"{exercise_result.score:g}/{exercise.points:g}",
        )
    return table


def progress(result: CheckResult) -> RenderableType:
    passed = sum(1 for exercise_result in result.exercises if exercise_result.status == "passed")
    total = len(result.exercises)
    bar = ProgressBar(total=max(total, 1), completed=passed, width=40)
    line = Table.grid(padding=(0, 1))
    line.add_row(
        bar,
        Text(f"{passed}/{total} exercises passed, score {result.score:g}/{result.max_score:g}"
             + (f", bonus {result.bonus_score:g}/{result.bonus_max_score:g}" if result.bonus_max_score else "")),
    )
    return line


def first_to_fix(result: CheckResult) -> ExerciseResult | None:
    """The first exercise, in course order, that is started but not passing; else the first not started."""
    for exercise_result in result.exercises:
        if exercise_result.status in ("failed", "error", "timeout"):
            return exercise_result
    for exercise_result in result.exercises:
        if exercise_result.status == "not_started":
            return exercise_result
    return None


def focus_panel(exercise_result: ExerciseResult) -> Panel:
    exercise = exercise_result.exercise
    glyph, style = GLYPHS[exercise_result.status]
    if exercise_result.status == "not_started":
        body = Text(
            f"Next up: {', '.join(exercise.functions)} in exercises/{exercise.module}.py.\n"
            f"Read its docstring, write it, then run: make check EX={exercise.id}"
        )
    else:
        body = Text(exercise_result.message)
        failing = [test for test in exercise_result.tests if test.status != "passed"]
        if len(failing) > 1:
            body.append(f"\n\n{len(failing)} of {len(exercise_result.tests)} tests of this exercise do not pass.", style="dim")
        printed = next((test.output for test in failing if test.output), "")
        if printed:
            body.append("\n\nYour code printed:\n", style="dim")
            body.append(printed.rstrip()[:1500])
    body.append(f"\n\nStuck? make hint EX={exercise.id}", style="dim")
    title = f"{glyph} {exercise.id} {exercise.title}: {STATUS_WORDS[exercise_result.status]}"
    return Panel(body, title=title, title_align="left", border_style=style, expand=False)


def exercise_list(exercises: list) -> Table:
    """The syllabus, for `checker list`."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("exercise")
    table.add_column("file", no_wrap=True)
    table.add_column("grades")
    table.add_column("points", justify="right")
    for exercise in exercises:
        table.add_row(
            exercise.id,
            exercise.title + ("  (bonus)" if exercise.bonus else ""),
            f"{exercise.module}.py",
            ", ".join(exercise.functions),
            f"{exercise.points:g}",
        )
    return table
