"""Check a folder of exercises: choose the cases, run them, judge them.

`run_check` is the whole pipeline, used by the CLI, batch grading and the
kit's own tests. It always returns a result: whatever the student's code did,
every selected exercise gets a status.
"""

from __future__ import annotations

from pathlib import Path

from . import judge, runner
from .cases import cases_for
from .manifest import Exercise
from .results import CheckResult, ExerciseResult


def run_check(impl_dir: Path, exercises: list[Exercise], limits: runner.Limits = runner.Limits()) -> CheckResult:
    impl_dir = Path(impl_dir)
    cases = cases_for([exercise.id for exercise in exercises])
    log = runner.run(impl_dir, cases, limits)
    return judge.judge_run(str(impl_dir), exercises, cases, log.records)


def failed_to_run(impl_dir: Path, exercises: list[Exercise], reason: str) -> CheckResult:
    """A result for when the checker itself could not run: every exercise an error."""
    return CheckResult(
        impl=str(impl_dir),
        exercises=[ExerciseResult(exercise, "error", f"the checker could not run: {reason}") for exercise in exercises],
    )
