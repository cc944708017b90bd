"""The typed outcome model: from the child's record to the report.

A case travels in three steps, each with its own type:

1. The runner turns what the child sent (or what it saw happen to the
   child) into a `CaseRecord`: how the run of the case ended (`Outcome`),
   with the observation, the exception (`RaisedError`), the limit it hit
   (`LimitHit`), or why the checker refused its result (`Refusal`).
2. The judge turns a record into a verdict, a `Status`, with a message for
   the student (results.CaseResult).
3. The report, watch, grade and Gradescope read statuses, never messages.

Every decision along the way reads these types. Messages are words for
people: nothing decides on their text. On the wire (wire.py) the same
values travel as the strings of the enums.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Status(str, Enum):
    """The verdict on a case or an exercise, spelt as in the JSON contract."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_STARTED = "not_started"
    ERROR = "error"
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return self.value

    @property
    def needs_work(self) -> bool:
        """Started but not passing: what the student should fix first."""
        return self in (Status.FAILED, Status.ERROR, Status.TIMEOUT)


class Outcome(str, Enum):
    """How the run of one case ended, before anything is judged."""

    RETURNED = "returned"  # the probe returned an observation
    RAISED = "raised"  # the student's code raised an exception
    TIMEOUT = "timeout"  # the case ran out of time
    CRASHED = "crashed"  # the process running it died
    NOT_RUN = "not_run"  # the case was skipped (NotRunCause says why)
    REFUSED = "refused"  # the checker could not accept its result (Refusal says why)
    MISSING = "missing"  # no record came back at all


class Limit(str, Enum):
    """A limit the checker sets on student code."""

    CASE_TIME = "case_time"
    RUN_TIME = "run_time"
    MEMORY = "memory"
    RESULT_SIZE = "result_size"


class NotRunCause(str, Enum):
    """Why a case was not run."""

    EXERCISE_HUNG = "exercise_hung"  # an earlier case of its exercise timed out
    EXERCISE_CRASHED = "exercise_crashed"  # an earlier case of its exercise stopped the process
    RUN_TIMED_OUT = "run_timed_out"  # the whole run used up its time


class Refusal(str, Enum):
    """Why the checker did not accept a case's result."""

    UNREADABLE_RESULT = "unreadable_result"  # the observation could not be encoded
    RESULT_TOO_LARGE = "result_too_large"  # it was larger than the checker reads
    CHANNEL_TAMPERED = "channel_tampered"  # something forged records on the result channel
    UNREADABLE_RECORD = "unreadable_record"  # the record itself made no sense
    CHECKER_ERROR = "checker_error"  # pytest reported a failure outside the probe


@dataclass(frozen=True)
class LimitHit:
    """A limit a case ran into: which one, and its size (seconds or bytes)."""

    limit: Limit
    amount: float | None = None


@dataclass(frozen=True)
class RaisedError:
    """An exception raised by student code, as plain data (observe.exception_info).

    `type` and `bases` are Python's class names; `message` is str() of the
    exception; `frames` are the student's frames, outermost first. A
    SyntaxError also gives its `file`, `line` and `text`; an AttributeError
    on a module gives the `attribute` and the module (`owner_module`).
    """

    type: str
    message: str = ""
    bases: tuple[str, ...] = ()
    frames: tuple[dict[str, Any], ...] = ()
    file: str | None = None
    line: int | None = None
    text: str | None = None
    attribute: str | None = None
    owner_module: str | None = None

    @classmethod
    def from_wire(cls, data: Any) -> RaisedError | None:
        """The error from the child's plain data; None when it cannot be read."""
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return None
        frames = data.get("frames") if isinstance(data.get("frames"), list) else []
        bases = data.get("bases") if isinstance(data.get("bases"), list) else []
        line = data.get("line")
        return cls(
            type=data["type"],
            message=str(data.get("message", "")),
            bases=tuple(str(base) for base in bases),
            frames=tuple(frame for frame in frames if isinstance(frame, dict)),
            file=_text_or_none(data.get("file")),
            line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            text=_text_or_none(data.get("text")),
            attribute=_text_or_none(data.get("attribute")),
            owner_module=_text_or_none(data.get("owner_module")),
        )

    @property
    def raising_function(self) -> str | None:
        """The student function the exception left from (its innermost frame)."""
        if self.frames:
            return str(self.frames[-1].get("function", "")) or None
        return None


@dataclass
class CaseRecord:
    """Everything the runner learnt about one case, for the judge."""

    outcome: Outcome
    observation: Any = None  # RETURNED: the probe's plain data
    error: RaisedError | None = None  # RAISED, and TIMEOUT when the child saw where
    limit: LimitHit | None = None  # TIMEOUT (CASE_TIME or RUN_TIME), RAISED out of MEMORY, REFUSED for size
    refusal: Refusal | None = None  # REFUSED
    not_run: NotRunCause | None = None  # NOT_RUN
    detail: str = ""  # CRASHED: how the process ended; REFUSED: what was wrong, in words
    output: str = ""  # what the student's code printed during the case

    @classmethod
    def from_wire(cls, record: dict[str, Any]) -> CaseRecord:
        """A "result" record the child sent. Anything unexpected is an UNREADABLE_RECORD."""
        output = record.get("output") if isinstance(record.get("output"), str) else ""
        try:
            outcome = Outcome(record.get("outcome"))
        except ValueError:
            return cls(Outcome.REFUSED, refusal=Refusal.UNREADABLE_RECORD, output=output)
        if outcome is Outcome.RETURNED:
            return cls(outcome, observation=record.get("observation"), output=output)
        if outcome is Outcome.RAISED:
            error = RaisedError.from_wire(record.get("error"))
            if error is None:
                return cls(Outcome.REFUSED, refusal=Refusal.UNREADABLE_RECORD, output=output)
            return cls(outcome, error=error, output=output)
        if outcome is Outcome.TIMEOUT:
            # The child's timer fired: its limit is the case's own, which the parent knows.
            return cls(
                outcome,
                error=RaisedError.from_wire(record.get("error")),
                limit=LimitHit(Limit.CASE_TIME),
                output=output,
            )
        if outcome is Outcome.REFUSED:
            try:
                refusal = Refusal(record.get("refusal"))
            except ValueError:
                refusal = Refusal.UNREADABLE_RECORD
            return cls(outcome, refusal=refusal, detail=str(record.get("detail", "")), output=output)
        # The child never sends the others: the runner makes them.
        return cls(Outcome.REFUSED, refusal=Refusal.UNREADABLE_RECORD, output=output)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
