"""The report: results in, rich renderables out. Printing happens in cli.py.

A table of the exercises in course order (status, id, title, points), an
overall progress bar, and a panel for the first exercise that needs work,
with its message and how to get a hint. On a console without colour (not a
terminal, or NO_COLOR set) the same renderables come out as plain text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from . import manifest, results
from .outcomes import Status
from .results import CheckResult, ExerciseResult


@dataclass(frozen=True)
class Commands:
    """How the report spells the commands it suggests, so that each can be pasted where it is read.

    In a terminal, from the kit's folder: `make check EX=1.2`, `make hint EX=1.2`.
    In a notebook: `check("1.2")`, `hint("1.2")` (both from `checker`).
    """

    notebook: bool = False

    def check(self, selection: str) -> str:
        return f'check("{selection}")' if self.notebook else f"make check EX={selection}"

    def hint(self, exercise_id: str) -> str:
        return f'hint("{exercise_id}")' if self.notebook else f"make hint EX={exercise_id}"

    def hint_reset(self, exercise_id: str) -> str:
        return f'hint("{exercise_id}", reset=True)' if self.notebook else f"make hint EX={exercise_id} RESET=1"


TERMINAL = Commands()
NOTEBOOK = Commands(notebook=True)

GLYPHS = {
    Status.PASSED: ("✓", "green"),
    Status.FAILED: ("✗", "red"),
    Status.NOT_STARTED: ("·", "dim"),
    Status.ERROR: ("!", "magenta"),
    Status.TIMEOUT: ("⧗", "yellow"),
}

STATUS_WORDS = {
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.NOT_STARTED: "not started",
    Status.ERROR: "error",
    Status.TIMEOUT: "timed out",
}


def make_console(**options: object) -> Console:
    """The console the report prints on: rich's own choice of colour and width."""
    return Console(highlight=False, **options)


def show(console: Console, renderable: RenderableType) -> None:
    """Print on `console`; when it is not a terminal (a pipe, a file), without trailing spaces.

    rich pads every line of a table or a panel to its full width, which a
    terminal never shows but a file or a diff does.
    """
    if console.is_terminal or console.is_jupyter:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    text = "\n".join(line.rstrip() for line in captured.get().split("\n"))
    console.file.write(text)
    console.file.flush()


def plain_text(renderable: RenderableType, width: int) -> str:
    """A renderable as plain text at a fixed width, without colours or trailing
    spaces: for what is read outside a terminal (Gradescope's results, a README)."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, force_terminal=False, highlight=False).print(renderable)
    return "\n".join(line.rstrip() for line in buffer.getvalue().split("\n"))


def render(result: CheckResult, commands: Commands = TERMINAL) -> RenderableType:
    parts: list[RenderableType] = [exercise_table(result), progress(result)]
    notice = sandbox_notice(result)
    if notice is not None:
        parts.append(notice)
    if result.seed is not None:
        parts.append(seed_line(result.seed))
    parts += [curve for curve in map(loss_curve, result.exercises) if curve is not None]
    focus = first_to_fix(result)
    if focus is not None:
        parts.append(focus_panel(focus, commands))
    elif result.optional and result.all_passed:
        parts.append(finished_panel(result, commands))
    return Group(*parts)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Any, width: int = 40) -> str:
    """A list of numbers as one line of block characters, averaged down to `width` columns."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return ""
    columns = [chunk.mean() for chunk in np.array_split(values, min(width, values.size))]
    low, high = min(columns), max(columns)
    span = (high - low) or 1.0
    return "".join(SPARKS[int(round((value - low) / span * (len(SPARKS) - 1)))] for value in columns)


def loss_curve(exercise_result: ExerciseResult, width: int = 60, height: int = 8) -> RenderableType | None:
    """The capstone's training loss as a small chart, from the observation of its passing training case."""
    observation = next(
        (seen for seen in exercise_result.observations.values() if isinstance(seen, dict) and "losses" in seen), None
    )
    if observation is None:
        return None
    losses = np.asarray(observation["losses"].get("values", []), dtype=np.float64).ravel()
    losses = losses[np.isfinite(losses)]
    if losses.size < 2:
        return None
    columns = np.array([chunk.mean() for chunk in np.array_split(losses, min(width, losses.size))])
    low, high = float(columns.min()), float(columns.max())
    # A log scale when it can be: a loss falls fast, then slowly, and the slow part matters too.
    scale = np.log if low > 0 else (lambda values: values)
    span = float(scale(high) - scale(low)) or 1.0
    levels = (scale(columns) - scale(low)) / span * (height * 8 - 1)  # eighths of a row
    chart = Text()
    for row in range(height - 1, -1, -1):
        label = f"{high:8.3f} ┤" if row == height - 1 else f"{low:8.3f} ┤" if row == 0 else "         │"
        chart.append(label, style="dim")
        for level in levels:
            eighths = int(level) - row * 8 + 1  # how much of this cell the column fills
            chart.append(" " if eighths <= 0 else SPARKS[min(eighths, 8) - 1], style="cyan")
        chart.append("\n")
    chart.append(" " * 10 + "first step".ljust(max(len(columns) - 9, 11)) + "last step", style="dim")
    summary = f"{losses.size} loss values{' (log scale)' if low > 0 else ''}, from {losses[0]:.4g} to {losses[-1]:.4g}"
    if "accuracy" in observation:
        summary += f"; test accuracy {observation['accuracy']:.1%}"
    if isinstance(observation.get("seconds"), (int, float)):
        summary += f"; trained in {observation['seconds']:.2f} s"
    chart.append("\n" + summary)
    title = f"{exercise_result.exercise.id} {exercise_result.exercise.title}: training loss"
    return Panel(chart, title=title, title_align="left", expand=False)


def exercise_table(result: CheckResult) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=f"Backprop kit: {result.impl}", title_justify="left"
    )
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


def summary_text(result: CheckResult) -> str:
    """'3/10 exercises passed, score 12/38' (and the bonus, when there is one)."""
    passed = sum(1 for exercise_result in result.exercises if exercise_result.status is Status.PASSED)
    text = f"{passed}/{len(result.exercises)} exercises passed, score {result.score:g}/{result.max_score:g}"
    if result.bonus_max_score:
        text += f", bonus {result.bonus_score:g}/{result.bonus_max_score:g}"
    return text


class ProgressLine:
    """A bar and the summary on one line, the bar shortened to fit the console's width.

    Filled with heavy rules, the rest light ones, so that it reads the same
    in colour and as plain text.
    """

    MAX_BAR, MIN_BAR = 40, 10

    def __init__(self, passed: int, total: int, text: str):
        self.passed, self.total, self.text = passed, max(total, 1), text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        room = options.max_width - len(self.text) - 1
        width = min(self.MAX_BAR, room) if room >= self.MIN_BAR else min(self.MAX_BAR, options.max_width)
        filled = round(width * self.passed / self.total)
        bar = Text("━" * filled, style="green") + Text("─" * (width - filled), style="dim")
        if room >= self.MIN_BAR:
            yield bar + Text(" " + self.text)
        else:  # too narrow for both: the summary goes under the bar
            yield bar
            yield Text(self.text)


def progress(result: CheckResult) -> RenderableType:
    passed = sum(1 for exercise_result in result.exercises if exercise_result.status is Status.PASSED)
    return ProgressLine(passed, len(result.exercises), summary_text(result))


def sandbox_notice(result: CheckResult) -> Text | None:
    """One line when the code ran with a protection missing (see sandbox.py); nothing when all held."""
    sandbox = result.sandbox
    if not sandbox or sandbox.get("full"):
        return None
    missing = ", ".join(sandbox.get("missing", [])) or "unknown"
    notes = "; ".join(sandbox.get("notes", [])[:2])
    return Text(
        f"! Sandbox partial: no {missing} protection"
        + (f" ({notes})" if notes else "")
        + ". Fine for your own code; do not grade others' code here.",
        style="yellow",
    )


def seed_line(seed: int) -> Text:
    """Under a grading seed the hidden inputs differ from `make check`'s: say which, so the run can be repeated."""
    return Text(
        f"Hidden inputs drawn from grading seed {seed}: `python -m checker check --seed {seed}` draws them again.",
        style="dim",
    )


def first_to_fix(result: CheckResult) -> ExerciseResult | None:
    """The first exercise, in course order, that is started but not passing; else the first not started.

    Optional bonus exercises (shown by a plain check, not asked for) are never it.
    """
    return results.first_to_fix(
        (exercise_result, exercise_result.status)
        for exercise_result in result.exercises
        if exercise_result.exercise.id not in result.optional
    )


def finished_panel(result: CheckResult, commands: Commands = TERMINAL) -> Panel:
    """Every main exercise passes: say so, and point at the bonus without making it a failure."""
    body = Text(f"Every main exercise passes: {result.score:g}/{result.max_score:g}. Well done.")
    open_bonus = [
        exercise_result
        for exercise_result in result.exercises
        if exercise_result.exercise.id in result.optional and exercise_result.status is not Status.PASSED
    ]
    if open_bonus:
        names = ", ".join(f"{item.exercise.id} {item.exercise.title}" for item in open_bonus)
        body.append(f"\n\nOptional bonus still open: {names}. Try them with: {commands.check('b')}", style="dim")
    return Panel(body, title="✓ course complete", title_align="left", border_style="green", expand=False)


def focus_panel(exercise_result: ExerciseResult, commands: Commands = TERMINAL) -> Panel:
    exercise = exercise_result.exercise
    glyph, style = GLYPHS[exercise_result.status]
    if exercise_result.status is Status.NOT_STARTED:
        body = Text(
            f"Next up: {', '.join(exercise.functions)} in exercises/{exercise.module}.py.\n"
            f"Read the lesson ({exercise.lesson}) and the docstring, write it, then run: {commands.check(exercise.id)}"
        )
    else:
        body = Text(exercise_result.message)
        failing = [test for test in exercise_result.tests if test.status is not Status.PASSED]
        if len(failing) > 1:
            body.append(
                f"\n\n{len(failing)} of {len(exercise_result.tests)} tests of this exercise do not pass.", style="dim"
            )
        printed = next((test.output for test in failing if test.output), "")
        if printed:
            body.append("\n\nYour code printed:\n", style="dim")
            body.append(printed.rstrip()[:1500])
    body.append(f"\n\nStuck? {commands.hint(exercise.id)}", style="dim")
    if exercise_result.status is not Status.NOT_STARTED:
        body.append(
            f"\nThe lesson of Part {exercise.part}: {exercise.lesson}"
            if not exercise.bonus
            else f"\nThe lesson of the bonus: {exercise.lesson}",
            style="dim",
        )
    title = f"{glyph} {exercise.id} {exercise.title}: {STATUS_WORDS[exercise_result.status]}"
    return Panel(body, title=title, title_align="left", border_style=style, expand=False)


def exercise_list(exercises: list) -> RenderableType:
    """The syllabus, for `make list`: part by part, each part's lesson and file
    first, then each exercise with its points and time limit (per test)."""
    parts: list[RenderableType] = []
    by_part: dict[str, list] = {}
    for exercise in exercises:
        by_part.setdefault(exercise.part, []).append(exercise)
    for part, members in by_part.items():
        name = "Bonus" if part == "bonus" else f"Part {part}"
        heading = Text(f"{name}: {manifest.PART_TITLES[part]}", style="bold")
        heading.append(
            f"\nlesson {manifest.lesson_of(part)}, code in exercises/{manifest.PART_MODULES[part]}.py", style="dim"
        )
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_header=not parts, expand=True)
        table.add_column("id", width=4, no_wrap=True)
        table.add_column("exercise", width=26)
        table.add_column("grades", ratio=1, min_width=26)
        table.add_column("points", justify="right", width=6, no_wrap=True)
        table.add_column("limit", justify="right", width=5, no_wrap=True)
        for exercise in members:
            table.add_row(
                exercise.id,
                exercise.title,
                ", ".join(exercise.functions) + (f" (in {exercise.module}.py)" if exercise.file else ""),
                f"{exercise.points:g}",
                f"{exercise.timeout:g} s",
            )
        parts += [heading, table, Text("")]
    parts.append(Text("limit: how long each test of an exercise may run before it counts as timed out.", style="dim"))
    return Group(*parts)
