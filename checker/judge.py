"""Decide each case and each exercise from the child's records.

This runs in the parent process only. A case passes only when its record
says the probe returned and its judge accepts the observation; a missing or
unreadable record is a failure, never a pass.
"""

from __future__ import annotations

from typing import Any

from . import manifest, runner, safetext, wire
from .cases import Case, CaseFailure
from .manifest import Exercise
from .observe import where_raised
from .outcomes import CaseRecord, Limit, NotRunCause, Outcome, RaisedError, Refusal, Status
from .results import CaseResult, CheckResult, ExerciseResult

_MEMORY_LIMIT = f"{runner.Limits().memory_bytes / 1024**3:g} GiB of memory"

# pytest's outcome exceptions: raised by student code, they try to steer pytest.
_PYTEST_OUTCOMES = ("Skipped", "XFailed", "Failed", "Exit", "OutcomeException")
_SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
_IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")


def judge_run(impl: str, exercises: list[Exercise], cases: list[Case], records: dict[str, CaseRecord]) -> CheckResult:
    by_exercise: dict[str, list[CaseResult]] = {exercise.id: [] for exercise in exercises}
    observations: dict[str, dict[str, Any]] = {exercise.id: {} for exercise in exercises}
    for case in cases:
        exercise = manifest.get(case.exercise)
        record = records.get(case.id) or CaseRecord(Outcome.MISSING)
        result, observation = judge_case(case, exercise, record)
        # Memory addresses in reprs differ from run to run: a message must not.
        # Nor should it show the checker's own names and staging paths.
        result.message = safetext.without_internals(safetext.without_addresses(result.message))
        by_exercise[case.exercise].append(result)
        if observation is not None:
            observations[case.exercise][case.name] = observation

    results = []
    for exercise in exercises:
        result = summarise(exercise, by_exercise[exercise.id])
        result.observations = observations[exercise.id]
        results.append(result)
    _blame_prerequisites(results)
    return CheckResult(impl=impl, exercises=results)


def judge_case(case: Case, exercise: Exercise, record: CaseRecord) -> tuple[CaseResult, Any]:
    """The verdict on one case, and its observation when there is one."""
    output = record.output
    outcome = record.outcome

    if outcome is Outcome.RETURNED:
        try:
            observation = wire.decode(record.observation)
            case.run_judge(observation)
        except CaseFailure as failure:
            return CaseResult(
                case.name, Status.FAILED, str(failure), output, size=failure.size, mistake=failure.mistake
            ), None
        except Exception as exc:  # the observation is not what any correct code gives
            message = f"your code's result could not be checked ({type(exc).__name__}: {exc})."
            return CaseResult(case.name, Status.FAILED, message, output), None
        return CaseResult(case.name, Status.PASSED, "", output), observation

    if outcome is Outcome.RAISED:
        status, message = describe_exception(record.error, exercise)
        return CaseResult(case.name, status, message, output, general=_about_the_code(record.error)), None

    if outcome is Outcome.TIMEOUT:
        seconds = record.limit.amount if record.limit is not None else None
        text = f"did not finish within {seconds:g} s" if seconds is not None else "did not finish in time"
        where = where_raised(record.error)
        return CaseResult(case.name, Status.TIMEOUT, f"{text}{where}. Is there a loop that never ends?", output), None

    if outcome is Outcome.CRASHED:
        if record.limit is not None and record.limit.limit is Limit.MEMORY:
            return CaseResult(case.name, Status.ERROR, _out_of_memory(""), output), None
        message = (
            f"the Python process running your code stopped during this test ({record.detail or 'it stopped'}). "
            "Does your code call os._exit, crash NumPy, or use too much memory?"
        )
        return CaseResult(case.name, Status.ERROR, message, output), None

    if outcome is Outcome.NOT_RUN:
        return CaseResult(case.name, *_not_run(record), output), None

    if outcome is Outcome.REFUSED:
        return CaseResult(case.name, *_refused(record), output), None

    return CaseResult(
        case.name, Status.ERROR, "this test never reported a result (the test process stopped).", output
    ), None


def _not_run(record: CaseRecord) -> tuple[Status, str]:
    if record.not_run is NotRunCause.RUN_TIMED_OUT:
        seconds = record.limit.amount if record.limit is not None else None
        limit = f" (limit {seconds:g} s)" if seconds is not None else ""
        return Status.TIMEOUT, f"not run: the whole run timed out{limit}."
    if record.not_run is NotRunCause.EXERCISE_HUNG:
        return Status.TIMEOUT, "not run: an earlier test of this exercise timed out."
    return Status.ERROR, "not run: an earlier test of this exercise stopped the test process."


def _refused(record: CaseRecord) -> tuple[Status, str]:
    """Why the checker did not accept a result, in words."""
    if record.refusal is Refusal.CHANNEL_TAMPERED:
        return Status.ERROR, (
            "records were written on the checker's result channel by something other than the checker "
            "(your code must not write to file descriptors it did not open); no result sent through it counts."
        )
    if record.refusal is Refusal.UNREADABLE_RESULT:
        return Status.FAILED, (
            f"your code returned something the checker cannot read ({record.detail}). Return NumPy arrays or plain numbers."
        )
    if record.refusal is Refusal.RESULT_TOO_LARGE:
        return Status.ERROR, (
            f"your code's result was too large for the checker to read ({record.detail}). Does it return a huge array?"
        )
    if record.refusal is Refusal.CHECKER_ERROR:
        return Status.ERROR, f"the checker could not run this test: {record.detail}"
    return Status.ERROR, "this test's result was unreadable."


def _out_of_memory(where: str) -> str:
    return (
        f"ran out of memory{where}: the checker allows your code {_MEMORY_LIMIT}. "
        "Is something growing without end, or is an array far larger than you meant?"
    )


def describe_exception(error: RaisedError | None, exercise: Exercise) -> tuple[Status, str]:
    """(status, message) for an exception raised while running student code."""
    if error is None:
        return Status.ERROR, "your code raised an exception that could not be read."
    kind, message, where = error.type, error.message, where_raised(error)

    if kind == "NotImplementedError":
        return _not_written(error, exercise, where)
    if kind in _SYNTAX_ERRORS:
        shown = f"\n    {error.text.strip()}" if error.text else ""
        location = f"{error.file or '?'}, line {error.line if error.line is not None else '?'}"
        return Status.ERROR, f"{location} has a syntax error: {message.split(' (')[0]}{shown}"
    if kind in _IMPORT_ERRORS:
        return Status.ERROR, f"an import failed: {message}{where}."
    if kind == "MemoryError":
        return Status.ERROR, _out_of_memory(where)
    if kind == "AttributeError" and error.attribute is not None and error.owner_module is not None:
        module = error.owner_module.rsplit(".", 1)[-1]
        return Status.FAILED, f"{module}.py has no function {error.attribute}{where}: was it deleted or renamed?"
    if kind == "SystemExit":
        return Status.ERROR, f"your code called sys.exit({message}){where}; the checker counts that as an error."
    if kind == "KeyboardInterrupt":
        return Status.ERROR, f"your code raised KeyboardInterrupt{where}."
    if kind in _PYTEST_OUTCOMES:
        return (
            Status.FAILED,
            f"your code called pytest's {kind.lower()} ({message}){where}; only the checker decides outcomes.",
        )
    if kind == "RecursionError":
        return (
            Status.FAILED,
            f"hit Python's recursion limit{where}. A deep graph needs a loop with an explicit stack (see bonus b.1).",
        )
    return Status.FAILED, f"raised {kind}: {message}{where}."


def _not_written(error: RaisedError, exercise: Exercise, where: str) -> tuple[Status, str]:
    """A NotImplementedError: a stub of this exercise (not started), or of another one."""
    stub = error.raising_function
    if stub is not None and _belongs_to(stub, exercise):
        return Status.NOT_STARTED, f"{stub} is not written yet (it still raises NotImplementedError)."
    if stub is not None:
        owner = _exercise_of_function(stub)
        needs = f" (exercise {owner.id})" if owner else ""
        return Status.FAILED, f"this needs {stub}{needs}, which is not written yet."
    return Status.FAILED, f"raised NotImplementedError{where}."


def summarise(exercise: Exercise, tests: list[CaseResult]) -> ExerciseResult:
    """One status for the exercise: the worst of its tests', and the first message of that kind."""
    if not tests:
        return ExerciseResult(exercise, Status.ERROR, "this exercise has no tests (a bug in the kit).", tests)
    statuses = {test.status for test in tests}
    if statuses == {Status.PASSED}:
        return ExerciseResult(exercise, Status.PASSED, "", tests)
    if statuses == {Status.NOT_STARTED}:
        return ExerciseResult(exercise, Status.NOT_STARTED, tests[0].message, tests)
    for status in (Status.ERROR, Status.TIMEOUT, Status.FAILED, Status.NOT_STARTED):
        candidates = [test for test in tests if test.status is status]
        if candidates:
            test = min(candidates, key=_readability)
            # Some tests not started and others passing: started, not finished.
            overall = Status.FAILED if status is Status.NOT_STARTED else status
            # A syntax error is no test's fault: the test's name would only mislead.
            message = test.message if test.general else f"{test.name}: {test.message}"
            return ExerciseResult(exercise, overall, message, tests)
    raise AssertionError(f"unknown statuses {statuses}")


def _about_the_code(error: RaisedError | None) -> bool:
    """Whether an exception says something about the code whatever the test's inputs:
    it cannot be compiled or imported, or it calls a function not written yet."""
    if error is None:
        return False
    return error.type in (*_SYNTAX_ERRORS, *_IMPORT_ERRORS, "NotImplementedError")


def _readability(test: CaseResult) -> tuple[int, int, int]:
    """Sort key: the failing case whose message is easiest to read first.

    A message that names the mistake comes first. Then a message without an
    array (None returned, ...), which is as plain as it gets; then the
    smallest arrays, but not single numbers, from which no pattern (a sign,
    a factor, a transpose) can be seen.
    """
    named = 0 if test.mistake is not None else 1
    if test.size is None:
        return (named, 0, 0)
    return (named, 1 if test.size >= 4 else 2, test.size)


def _blame_prerequisites(results: list[ExerciseResult]) -> None:
    """Put 'fix X first' in front of failures that come from an earlier exercise."""
    status_of = {result.exercise.id: result.status for result in results}
    for result in results:
        if result.status in (Status.PASSED, Status.NOT_STARTED):
            continue
        failing = [
            required
            for required in result.exercise.requires
            if status_of.get(required, Status.PASSED) is not Status.PASSED
        ]
        if failing:
            result.blocked_by = failing
            names = " and ".join(f"{required} {manifest.get(required).title}" for required in failing)
            it, they, does = ("it", "it", "does") if len(failing) == 1 else ("them", "they", "do")
            result.message = (
                f"Fix {names} first: this exercise builds on {it}, and {they} {does} not pass yet, "
                f"so this failure may not be this exercise's fault.\nWhat this exercise saw: {result.message}"
            )


def _belongs_to(function: str, exercise: Exercise) -> bool:
    return any(function == name or function.startswith(name + ".") for name in exercise.functions)


def _exercise_of_function(function: str) -> Exercise | None:
    for exercise in manifest.EXERCISES:
        if not exercise.bonus and _belongs_to(function, exercise):
            return exercise
    return None
