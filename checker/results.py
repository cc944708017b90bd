"""The results of a check, as plain data, and their JSON form (a contract).

    {"impl": "...", "score": 12.0, "max_score": 100.0,
     "bonus_score": 0.0, "bonus_max_score": 10.0,
     "exercises": [{"id": "1.2", "title": "...", "functions": ["unbroadcast"],
                    "status": "passed|failed|not_started|error|timeout",
                    "score": 0.0, "max_score": 3.0, "message": "...",
                    "tests": [{"name": "...", "status": "...", "message": "..."}]}]}

score and max_score count the main exercises; bonus exercises are listed
with their own points and totalled apart. A `sandbox` object says which
protections held while the student's code ran (see sandbox.py):

    "sandbox": {"full": true, "user": "uid 3141592",
                "protections": {"filesystem": true, "network": true, "processes": true,
                                "signals": true, "ptrace": true, "fresh_user": true},
                "missing": [], "notes": []}

`fresh_user` is null when the checker does not run as root.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .manifest import Exercise
from .outcomes import Status


@dataclass
class CaseResult:
    """The verdict on one case (a "test" in the JSON)."""

    name: str
    status: Status
    message: str = ""
    output: str = ""  # what the student's code printed during this test
    size: int | None = None  # entries in the expected array of a failed comparison (not in the JSON)
    mistake: str | None = None  # the known mistake its message names, if any (not in the JSON)
    general: bool = False  # its message is about the code as a whole (a syntax error), not this test's inputs

    def __post_init__(self) -> None:
        self.status = Status(self.status)  # the contract's word is accepted too ("passed")


@dataclass
class ExerciseResult:
    exercise: Exercise
    status: Status
    message: str = ""
    tests: list[CaseResult] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)  # failing exercises it builds on
    observations: dict[str, Any] = field(default_factory=dict)  # for pictures in the report

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def score(self) -> float:
        return float(self.exercise.points) if self.status is Status.PASSED else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.exercise.id,
            "title": self.exercise.title,
            "functions": list(self.exercise.functions),
            "status": self.status.value,
            "score": self.score,
            "max_score": float(self.exercise.points),
            "message": self.message,
            "tests": [{"name": test.name, "status": test.status.value, "message": test.message} for test in self.tests],
        }


@dataclass
class CheckResult:
    impl: str
    exercises: list[ExerciseResult]
    sandbox: dict[str, Any] | None = None  # Confinement.to_json() of the run; None: no student code ran
    seed: int | None = None  # the grading seed of the hidden inputs (seeds.py); None: the fixed ones of `make check`
    # Bonus exercises shown but not asked for by name (a plain `check`): they
    # do not decide whether the check passed.
    optional: frozenset[str] = frozenset()

    def _part(self, bonus: bool) -> list[ExerciseResult]:
        return [result for result in self.exercises if result.exercise.bonus == bonus]

    @property
    def score(self) -> float:
        return float(sum(result.score for result in self._part(bonus=False)))

    @property
    def max_score(self) -> float:
        return float(sum(result.exercise.points for result in self._part(bonus=False)))

    @property
    def bonus_score(self) -> float:
        return float(sum(result.score for result in self._part(bonus=True)))

    @property
    def bonus_max_score(self) -> float:
        return float(sum(result.exercise.points for result in self._part(bonus=True)))

    @property
    def all_passed(self) -> bool:
        """Every exercise that decides the check passed (the optional bonus ones aside)."""
        return all(
            result.status is Status.PASSED for result in self.exercises if result.exercise.id not in self.optional
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "impl": self.impl,
            "score": self.score,
            "max_score": self.max_score,
            "bonus_score": self.bonus_score,
            "bonus_max_score": self.bonus_max_score,
            "exercises": [result.to_json() for result in self.exercises],
            "sandbox": self.sandbox,
            "seed": self.seed,
        }

    def write_json(self, path: Path) -> None:
        """Write atomically: a file the student's code wrote there is replaced whole."""
        write_json_atomically(path, self.to_json())


def statuses_of(check_json: Any) -> dict[str, Status]:
    """Each exercise's status in a check's JSON (read back by watch and grade).
    A status that is missing or not one of the contract's counts as an error."""
    statuses = {}
    for entry in check_json.get("exercises") or [] if isinstance(check_json, dict) else []:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            try:
                statuses[entry["id"]] = Status(entry.get("status"))
            except ValueError:
                statuses[entry["id"]] = Status.ERROR
    return statuses


Item = TypeVar("Item")


def first_to_fix(items: Iterable[tuple[Item, Status]]) -> Item | None:
    """The first item, in the order given, whose exercise is started but not
    passing; else the first not started; None when everything passes.

    The report's focus panel and `watch` both follow this rule.
    """
    items = list(items)
    for item, status in items:
        if status.needs_work:
            return item
    for item, status in items:
        if status is Status.NOT_STARTED:
            return item
    return None


def write_json_atomically(path: Path, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
