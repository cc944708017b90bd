"""Feedback: how long a student and an instructor wait for the checker.

- `check` of one exercise, against a bare `python -c "import numpy, pytest, rich"`
  (the least any Python tool built on them can cost), both timed in turn;
- `check` of everything on the solutions, in seconds;
- batch grading of copies of the solutions, in submissions a minute.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from pathlib import Path

from .common import PYTHON, REPO, Result, run_command, timed_command

BARE_IMPORT = [PYTHON, "-c", "import numpy, pytest, rich"]
ONE_EXERCISE = "1.1"
GRADED_SUBMISSIONS = 8
GRADING_JOBS = 2


def check_command(*words: str) -> list[str]:
    return [PYTHON, "-m", "checker", "check", *words, "--impl", "solutions"]


def check_one_exercise(repeats: int = 7) -> Result:
    run_command(BARE_IMPORT), run_command(check_command(ONE_EXERCISE))  # warm the file cache
    bare, check = [], []
    for _ in range(repeats):
        bare.append(run_command(BARE_IMPORT))
        check.append(run_command(check_command(ONE_EXERCISE)))
    bare_seconds, check_seconds = statistics.median(bare), statistics.median(check)
    ratios = [ours / theirs for ours, theirs in zip(check, bare)]
    ratio = statistics.median(ratios)
    return Result(
        f"check of one exercise ({ONE_EXERCISE})",
        f"{check_seconds:.3f} s",
        f"{bare_seconds:.3f} s bare import",
        f"{ratio:.2f}x",
        "<= 2x",
        ratio <= 2.0,
        f"wall clock, median of {repeats} rounds in turn, ratio per round {min(ratios):.2f}-{max(ratios):.2f}x",
        min(ratios) <= 2.0 < max(ratios),
    )


def check_everything(repeats: int = 3) -> Result:
    timings = [timed_command(check_command()) for _ in range(repeats)]
    seconds, cpu = statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings)
    return Result(
        "check of everything on solutions",
        f"{seconds:.2f} s",
        "-",
        f"{seconds:.2f} s",
        "<= 10 s",
        seconds <= 10.0,
        f"wall clock, median of {repeats} ({min(t.wall for t in timings):.2f}-{max(t.wall for t in timings):.2f} s); "
        f"CPU time {cpu:.2f} s",
    )


def grading_throughput() -> Result:
    with tempfile.TemporaryDirectory(prefix="backprop-bench-") as tmp:
        submissions, out = Path(tmp) / "submissions", Path(tmp) / "grades"
        for number in range(GRADED_SUBMISSIONS):
            folder = submissions / f"student{number:02d}"
            folder.mkdir(parents=True)
            for source in (REPO / "solutions").glob("*.py"):
                shutil.copyfile(source, folder / source.name)
        timing = timed_command(
            [PYTHON, "-m", "checker", "grade", str(submissions), "--out", str(out), "--jobs", str(GRADING_JOBS)]
        )
        sandbox = sandbox_of(out)
    per_minute = GRADED_SUBMISSIONS / timing.wall * 60.0
    # What the CPU time alone allows on GRADING_JOBS idle cores: on a shared
    # machine the wall clock also counts the wait for a core.
    cpu_bound_per_minute = GRADED_SUBMISSIONS / timing.cpu * 60.0 * GRADING_JOBS
    return Result(
        f"batch grading, {GRADING_JOBS} jobs",
        f"{per_minute:.1f} / min",
        f"{GRADED_SUBMISSIONS} in {timing.wall:.1f} s",
        f"{per_minute:.1f} / min",
        ">= 60 / min",
        per_minute >= 60.0,
        f"copies of the solutions, all exercises, sandbox: {sandbox}; wall clock. CPU time {timing.cpu:.1f} s, "
        f"{timing.cpu / GRADED_SUBMISSIONS:.2f} s a submission: {cpu_bound_per_minute:.0f} / min if {GRADING_JOBS} cores were idle",
    )


def sandbox_of(out: Path) -> str:
    """Whether the full sandbox held in the grading, as every grade JSON reports it."""
    reports = [json.loads(report.read_text()).get("sandbox") or {} for report in out.glob("*.json")]
    if not reports:
        return "no report"
    full = sum(1 for sandbox in reports if sandbox.get("full"))
    return f"full in {full} of {len(reports)}" + (f" ({reports[0].get('user')})" if reports[0].get("user") else "")


def run() -> list[Result]:
    return [check_one_exercise(), check_everything(), grading_throughput()]
