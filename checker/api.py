"""Check a folder of exercises: choose the cases, run them, judge them.

`run_check` is the whole pipeline, used by the CLI, batch grading and the
kit's own tests. It always returns a result: whatever the student's code did,
every selected exercise gets a status.
"""

from __future__ import annotations

from pathlib import Path

# Nothing here imports NumPy at import time: the child is started first
# (runner.start), and this process imports the suites and the judge while
# the child imports NumPy and pytest.
from . import runner, seeds
from .cases import cases_for
from .manifest import Exercise, with_prerequisites
from .outcomes import Status
from .results import CheckResult, ExerciseResult


def run_check(
    impl_dir: Path,
    exercises: list[Exercise],
    limits: runner.Limits = runner.Limits(),
    seed: int | None = None,
) -> CheckResult:
    """Check `exercises` (and, silently, the exercises they build on, so that
    a failure can be blamed on an earlier one that fails too).

    seed: the grading seed to draw the hidden inputs from (seeds.py); None
    gives the fixed inputs of `make check`.
    """
    return run_check_logged(impl_dir, exercises, limits, seed)[0]


def run_check_logged(
    impl_dir: Path,
    exercises: list[Exercise],
    limits: runner.Limits = runner.Limits(),
    seed: int | None = None,
) -> tuple[CheckResult, runner.RunLog]:
    """run_check, and the runner's log (batch grading reads its records)."""
    impl_dir = Path(impl_dir)
    needed = with_prerequisites(exercises)
    started = runner.start(impl_dir, limits)
    try:
        seeds.use(seed)
        cases = cases_for([exercise.id for exercise in needed])
    except BaseException:
        started.discard()
        raise
    log = runner.run(impl_dir, cases, limits, started=started)
    from . import judge

    result = judge.judge_run(str(impl_dir), needed, cases, log.records)
    result.sandbox = log.sandbox.to_json()
    result.seed = seed
    selected = {exercise.id for exercise in exercises}
    result.exercises = [
        exercise_result for exercise_result in result.exercises if exercise_result.exercise.id in selected
    ]
    return result, log


def failed_to_run(impl_dir: Path, exercises: list[Exercise], reason: str, seed: int | None = None) -> CheckResult:
    """A result for when the checker itself could not run: every exercise an error."""
    return CheckResult(
        impl=str(impl_dir),
        exercises=[
            ExerciseResult(exercise, Status.ERROR, f"the checker could not run: {reason}") for exercise in exercises
        ],
        seed=seed,
    )
