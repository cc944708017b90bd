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
from .results import CheckResult, ExerciseResult, TestResult

_MEMORY_LIMIT = f"{runner.Limits().memory_bytes / 1024**3:g} GiB of memory"

# Exception types whose name says the student's code tried to steer pytest.
_PYTEST_OUTCOMES = ("Skipped", "XFailed", "Failed", "Exit", "OutcomeException")


def judge_run(impl: str, exercises: list[Exercise], cases: list[Case], records: dict[str, dict[str, Any]]) -> CheckResult:
    by_exercise: dict[str, list[TestResult]] = {exercise.id: [] for exercise in exercises}
    observations: dict[str, dict[str, Any]] = {exercise.id: {} for exercise in exercises}
    for case in cases:
        exercise = manifest.get(case.exercise)
        record = records.get(case.id)
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


def judge_case(case: Case, exercise: Exercise, record: dict[str, Any] | None) -> tuple[TestResult, Any]:
    """The verdict on one case, and its observation when there is one."""
    if not isinstance(record, dict):
        return TestResult(case.name, "error", "this test never reported a result (the test process stopped)."), None
    output = record.get("output") if isinstance(record.get("output"), str) else ""
    outcome = record.get("outcome")

    if outcome == "returned":
        try:
            observation = wire.decode(record.get("observation"))
            case.run_judge(observation)
        except CaseFailure as failure:
            return TestResult(case.name, "failed", str(failure), output, size=failure.size, diagnosed=failure.diagnosed), None
        except Exception as exc:  # the observation is not what any correct code gives
            message = f"your code's result could not be checked ({type(exc).__name__}: {exc})."
            return TestResult(case.name, "failed", message, output), None
        return TestResult(case.name, "passed", "", output), observation

    if outcome == "raised":
        status, message = describe_exception(record.get("error"), exercise)
        general = _about_the_code(record.get("error"))
        return TestResult(case.name, status, message, output, general=general), None

    if outcome == "timeout":
        limit = record.get("limit")
        where = where_raised(record.get("error"))
        text = f"did not finish within {limit:g} s" if isinstance(limit, (int, float)) else "did not finish in time"
        return TestResult(case.name, "timeout", f"{text}{where}. Is there a loop that never ends?", output), None

    if outcome == "crashed":
        exit_text = record.get("exit") or record.get("reason") or "it stopped"
        message = (
            f"the Python process running your code stopped during this test ({exit_text}). "
            "Does your code call os._exit, crash NumPy, or use too much memory?"
        )
        return TestResult(case.name, "error", message, output), None

    if outcome == "not_run":
        reason = record.get("reason", "")
        status = "timeout" if "timed out" in reason else "error"
        return TestResult(case.name, status, f"not run: {reason}.", output), None

    return TestResult(case.name, "error", "this test's result was unreadable.", output), None


def describe_exception(error: Any, exercise: Exercise) -> tuple[str, str]:
    """(status, message) for an exception raised while running student code."""
    if not isinstance(error, dict):
        return "error", "your code raised an exception that could not be read."
    kind = str(error.get("type", "Exception"))
    message = str(error.get("message", ""))
    frames = error.get("frames") if isinstance(error.get("frames"), list) else []
    where = where_raised(error)

    if kind == "NotImplementedError":
        stub = _raising_function(frames)
        if stub is not None and _belongs_to(stub, exercise):
            return "not_started", f"{stub} is not written yet (it still raises NotImplementedError)."
        if stub is not None:
            owner = _exercise_of_function(stub)
            needs = f" (exercise {owner.id})" if owner else ""
            return "failed", f"this needs {stub}{needs}, which is not written yet."
        return "failed", f"raised NotImplementedError{where}."
    if kind == "SyntaxError" or kind == "IndentationError" or kind == "TabError":
        location = f"{error.get('file', '?')}, line {error.get('line', '?')}"
        text = error.get("text") or ""
        shown = f"\n    {text.strip()}" if text else ""
        return "error", f"{location} has a syntax error: {message.split(' (')[0]}{shown}"
    if kind in ("ImportError", "ModuleNotFoundError"):
        return "error", f"an import failed: {message}{where}."
    if kind in ("MemoryError", "OutOfMemory"):
        return "error", f"ran out of memory{where}: the checker allows your code {_MEMORY_LIMIT}. Is something growing without end, or is an array far larger than you meant?"
    if kind == "ChannelTampered":
        return "error", (
            "records were written on the checker's result channel by something other than the checker "
            "(your code must not write to file descriptors it did not open); no result sent through it counts."
        )
    if kind == "UnreadableResult":
        return "failed", f"your code returned something the checker cannot read ({message}). Return NumPy arrays or plain numbers."
    if kind == "ResultTooLarge":
        return "error", f"your code's result was too large for the checker to read ({message}). Does it return a huge array?"
    if kind == "AttributeError" and "has no attribute" in message and message.startswith("module "):
        missing = message.rsplit("has no attribute", 1)[1].strip(" '\"")
        module = message.split("'")[1].rsplit(".", 1)[-1] if "'" in message else "your module"
        return "failed", f"{module}.py has no function {missing}{where}: was it deleted or renamed?"
    if kind == "SystemExit":
        return "error", f"your code called sys.exit({message}){where}; the checker counts that as an error."
    if kind == "KeyboardInterrupt":
        return "error", f"your code raised KeyboardInterrupt{where}."
    if kind in _PYTEST_OUTCOMES:
        return "failed", f"your code called pytest's {kind.lower()} ({message}){where}; only the checker decides outcomes."
    if kind == "RecursionError":
        return "failed", f"hit Python's recursion limit{where}. A deep graph needs a loop with an explicit stack (see bonus b.1)."
    if kind == "CheckerError":
        return "error", f"the checker could not run this test: {message}"
    return "failed", f"raised {kind}: {message}{where}."


def summarise(exercise: Exercise, tests: list[TestResult]) -> ExerciseResult:
    """One status for the exercise: the worst of its tests', and the first message of that kind."""
    statuses = [test.status for test in tests]
    if not tests:
        return ExerciseResult(exercise, "error", "this exercise has no tests (a bug in the kit).", tests)
    if all(status == "passed" for status in statuses):
        return ExerciseResult(exercise, "passed", "", tests)
    if all(status == "not_started" for status in statuses):
        return ExerciseResult(exercise, "not_started", tests[0].message, tests)
    for status in ("error", "timeout", "failed", "not_started"):
        candidates = [test for test in tests if test.status == status]
        if candidates:
            test = min(candidates, key=_readability)
            overall = "failed" if status == "not_started" else status
            # A syntax error is no test's fault: the test's name would only mislead.
            message = test.message if test.general else f"{test.name}: {test.message}"
            return ExerciseResult(exercise, overall, message, tests)
    raise AssertionError(f"unknown statuses {statuses}")


def _about_the_code(error: Any) -> bool:
    """Whether an exception says something about the code whatever the test's inputs:
    it cannot be compiled or imported, or it calls a function not written yet."""
    if not isinstance(error, dict):
        return False
    kind = str(error.get("type", ""))
    return kind in ("SyntaxError", "IndentationError", "TabError", "ImportError", "ModuleNotFoundError", "NotImplementedError")


def _readability(test: TestResult) -> tuple[int, int, int]:
    """Sort key: the failing case whose message is easiest to read first.

    A message that names the mistake comes first. Then a message without an
    array (None returned, ...), which is as plain as it gets; then the
    smallest arrays, but not single numbers, from which no pattern (a sign,
    a factor, a transpose) can be seen.
    """
    if test.size is None:
        return (0 if test.diagnosed else 1, 0, 0)
    return (0 if test.diagnosed else 1, 1 if test.size >= 4 else 2, test.size)


def _blame_prerequisites(results: list[ExerciseResult]) -> None:
    """Put 'fix X first' in front of failures that come from an earlier exercise."""
    status_of = {result.exercise.id: result.status for result in results}
    for result in results:
        if result.status in ("passed", "not_started"):
            continue
        failing = [required for required in result.exercise.requires if status_of.get(required, "passed") != "passed"]
        if failing:
            result.blocked_by = failing
            names = " and ".join(f"{required} {manifest.get(required).title}" for required in failing)
            it, does = ("it", "does") if len(failing) == 1 else ("them", "do")
            result.message = (
                f"Fix {names} first: this exercise builds on {it}, and {it} {does} not pass yet, "
                f"so this failure may not be this exercise's fault.\nWhat this exercise saw: {result.message}"
            )


def _raising_function(frames: list[Any]) -> str | None:
    if frames and isinstance(frames[-1], dict):
        return str(frames[-1].get("function", "")) or None
    return None


def _belongs_to(function: str, exercise: Exercise) -> bool:
    return any(function == name or function.startswith(name + ".") for name in exercise.functions)


def _exercise_of_function(function: str) -> Exercise | None:
    for exercise in manifest.EXERCISES:
        if not exercise.bonus and _belongs_to(function, exercise):
            return exercise
    return None
