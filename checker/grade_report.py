"""What batch grading shows: a progress bar while it runs, a summary at the end.

Grades in, rich renderables out; cli.py prints them.
"""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .grade import Grade, most_failed, score_distribution
from .manifest import Exercise
from .outcomes import Status
from .report import STATUS_WORDS


def make_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("submissions"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[last]}", style="dim"),
        console=console,
        transient=False,
    )


def summary(
    grades: list[Grade], exercises: list[Exercise], out_dir: Path, seconds: float, seed: int | None = None
) -> RenderableType:
    if not grades:
        return Text("No submissions found. (Each subfolder, .zip, or group of loose part files is one.)")
    parts: list[RenderableType] = [
        Text(
            f"Graded {len(grades)} submissions in {seconds:.1f} s ({60 * len(grades) / max(seconds, 1e-9):.1f} a minute)."
        ),
        distribution_table(grades),
    ]
    failing = most_failed(grades, exercises)
    if failing:
        parts.append(most_failed_table(failing, len(grades)))
    trouble = [grade for grade in grades if grade.problem]
    if trouble:
        lines = Text("Could not be checked normally:\n", style="bold")
        for grade in trouble:
            lines.append(f"  {grade.name}: {grade.problem}\n")
        parts.append(lines)
    retried = [grade.name for grade in grades if grade.attempts > 1 and not grade.problem]
    if retried:
        parts.append(
            Text(f"Graded again alone after their checking process was disturbed: {', '.join(retried)}", style="dim")
        )
    incomplete = sum(1 for grade in grades if grade.missing)
    if incomplete:
        parts.append(
            Text(
                f"{incomplete} submissions lacked some part files; those parts were graded as not started.", style="dim"
            )
        )
    if seed is not None:
        parts.append(
            Text(
                f"Hidden inputs drawn from grading seed {seed}: `grade --seed {seed}` grades again with the same inputs.",
                style="dim",
            )
        )
    parts.append(Text(f"Wrote {out_dir / 'grades.csv'} and one JSON per submission.", style="dim"))
    return Group(*parts)


def distribution_table(grades: list[Grade], width: int = 30) -> Table:
    rows = score_distribution(grades)
    largest = max((count for _, count in rows), default=0) or 1
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title="Scores", title_justify="left")
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("submissions", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for label, count in rows:
        table.add_row(label, str(count), Text("█" * round(width * count / largest), style="cyan"))
    return table


def most_failed_table(rows: list[tuple[Exercise, dict[str, int]]], total: int) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title="Most failed exercises", title_justify="left"
    )
    table.add_column("id", no_wrap=True)
    table.add_column("exercise")
    table.add_column("not passed", justify="right", no_wrap=True)
    table.add_column("how", no_wrap=True)
    for exercise, counts in rows:
        not_passed = total - counts.get(Status.PASSED, 0)
        how = ", ".join(
            f"{counts[status]} {STATUS_WORDS[status]}"
            for status in (Status.FAILED, Status.ERROR, Status.TIMEOUT, Status.NOT_STARTED)
            if counts.get(status)
        )
        table.add_row(exercise.id, exercise.title, f"{not_passed}/{total}", how)
    return table
