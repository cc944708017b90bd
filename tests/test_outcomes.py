"""The typed outcome model (checker/outcomes.py): records read from the wire, and statuses read back."""

from __future__ import annotations

from checker import judge, manifest
from checker.cases import Case
from checker.outcomes import CaseRecord, Limit, LimitHit, NotRunCause, Outcome, RaisedError, Refusal, Status
from checker.results import first_to_fix, statuses_of


def verdict(record: CaseRecord) -> tuple[Status, str]:
    case = Case("1.1", "a case", run_probe=lambda student: None, run_judge=lambda observation: None)
    result, _ = judge.judge_case(case, manifest.get("1.1"), record)
    return result.status, result.message


def test_a_record_with_an_unknown_outcome_is_refused_as_unreadable():
    record = CaseRecord.from_wire({"kind": "result", "case": "1.1::a case", "outcome": "passed"})
    assert (record.outcome, record.refusal) == (Outcome.REFUSED, Refusal.UNREADABLE_RECORD)
    assert verdict(record) == (Status.ERROR, "this test's result was unreadable.")


def test_a_raised_record_without_a_readable_error_is_refused():
    record = CaseRecord.from_wire({"outcome": "raised", "error": "not a dict"})
    assert record.outcome is Outcome.REFUSED and record.refusal is Refusal.UNREADABLE_RECORD


def test_a_child_cannot_send_the_outcomes_only_the_runner_makes():
    for outcome in ("crashed", "not_run", "missing"):
        assert CaseRecord.from_wire({"outcome": outcome}).outcome is Outcome.REFUSED


def test_each_outcome_has_its_status():
    returned = CaseRecord(Outcome.RETURNED, observation=None)
    assert verdict(returned)[0] is Status.PASSED
    assert verdict(CaseRecord(Outcome.TIMEOUT, limit=LimitHit(Limit.CASE_TIME, 5.0)))[0] is Status.TIMEOUT
    assert verdict(CaseRecord(Outcome.NOT_RUN, not_run=NotRunCause.EXERCISE_HUNG))[0] is Status.TIMEOUT
    assert (
        verdict(CaseRecord(Outcome.NOT_RUN, not_run=NotRunCause.RUN_TIMED_OUT, limit=LimitHit(Limit.RUN_TIME, 300)))[0]
        is Status.TIMEOUT
    )
    assert verdict(CaseRecord(Outcome.NOT_RUN, not_run=NotRunCause.EXERCISE_CRASHED))[0] is Status.ERROR
    assert verdict(CaseRecord(Outcome.CRASHED, detail="killed by signal SIGSEGV"))[0] is Status.ERROR
    assert verdict(CaseRecord(Outcome.REFUSED, refusal=Refusal.CHANNEL_TAMPERED))[0] is Status.ERROR
    assert (
        verdict(CaseRecord(Outcome.REFUSED, refusal=Refusal.UNREADABLE_RESULT, detail="a socket"))[0] is Status.FAILED
    )
    assert verdict(CaseRecord(Outcome.MISSING))[0] is Status.ERROR


def test_the_words_of_a_message_decide_nothing():
    """A timeout's verdict comes from its outcome: an exception that says "timed out" is a failure like any other."""
    said = CaseRecord(Outcome.RAISED, error=RaisedError("RuntimeError", "the whole run timed out"))
    assert verdict(said)[0] is Status.FAILED
    forged = CaseRecord(
        Outcome.RAISED, error=RaisedError("Failed", "Timeout >5.0s", bases=("Failed", "OutcomeException"))
    )
    status, message = verdict(forged)
    assert status is Status.FAILED and "only the checker decides outcomes" in message


def test_a_crash_at_the_memory_cap_says_so():
    status, message = verdict(
        CaseRecord(Outcome.CRASHED, limit=LimitHit(Limit.MEMORY, 2 * 1024**3), detail="exit status 1")
    )
    assert status is Status.ERROR and "ran out of memory" in message


def test_a_missing_function_is_read_from_the_exception_not_its_message():
    error = RaisedError(
        "AttributeError",
        "something else entirely",
        attribute="unbroadcast",
        owner_module="backprop_student.part1_backward",
    )
    status, message = judge.describe_exception(error, manifest.get("1.2"))
    assert status is Status.FAILED and message.startswith("part1_backward.py has no function unbroadcast")
    # The same words without the structure are an ordinary AttributeError.
    plain = RaisedError("AttributeError", "module 'backprop_student.part1_backward' has no attribute 'unbroadcast'")
    assert judge.describe_exception(plain, manifest.get("1.2"))[1].startswith("raised AttributeError")


def test_statuses_read_back_from_json_are_typed_and_unknown_ones_are_errors():
    read = statuses_of(
        {"exercises": [{"id": "1.1", "status": "passed"}, {"id": "1.2", "status": "great"}, {"id": "1.3"}, "junk"]}
    )
    assert read == {"1.1": Status.PASSED, "1.2": Status.ERROR, "1.3": Status.ERROR}
    assert statuses_of("not json") == {}


def test_first_to_fix_prefers_a_started_exercise_that_fails():
    assert first_to_fix([("1.1", Status.PASSED), ("1.2", Status.NOT_STARTED), ("1.3", Status.FAILED)]) == "1.3"
    assert first_to_fix([("1.1", Status.PASSED), ("1.2", Status.NOT_STARTED), ("1.3", Status.TIMEOUT)]) == "1.3"
    assert first_to_fix([("1.1", Status.PASSED), ("1.2", Status.NOT_STARTED)]) == "1.2"
    assert first_to_fix([("1.1", Status.PASSED)]) is None


def test_blaming_two_prerequisites_reads_as_english():
    from checker.results import ExerciseResult

    results = [
        ExerciseResult(manifest.get("1.1"), Status.FAILED, "wrong"),
        ExerciseResult(manifest.get("1.3"), Status.FAILED, "wrong"),
        ExerciseResult(manifest.get("1.4"), Status.FAILED, "saw this"),
    ]
    judge._blame_prerequisites(results)
    assert results[2].blocked_by == ["1.1", "1.3"]
    assert results[2].message.startswith(
        "Fix 1.1 log_back and 1.3 multiply_back first: this exercise builds on them, and they do not pass yet,"
    )
    assert results[2].message.endswith("What this exercise saw: saw this")
