"""Test cases: a probe that runs student code, and a judge that decides.

The two halves run in different processes, on purpose:

- the probe runs in the child process, next to the student's code. It calls
  that code and reduces what comes back to plain data (numbers, strings,
  float64 arrays): an *observation*.
- the judge runs in the parent process, which never imports student code. It
  compares the observation with what mathematics expects, and raises
  `CaseFailure` with a message for the student when they differ.

So nothing the student's code does (patching NumPy or pytest, lying objects,
exiting early) can change a verdict: at worst it spoils its own observation.

A suite module declares its cases like this:

    @probe("1.2", "sums the leading dims of a (2, 3, 4) gradient")
    def unbroadcast_leading(student):
        return returned(student.part1_backward.unbroadcast(GRAD, ORIGINAL))

    @unbroadcast_leading.judge
    def judge_unbroadcast_leading(observation):
        expect_array(observation, GRAD.sum(axis=0), what="unbroadcast(...)")

Both processes import the same suite modules, so inputs built at import time
are the same on both sides: each is drawn from `seeds.rng(number)`, and both
processes use the same grading seed (none under `make check`; see seeds.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class CaseFailure(AssertionError):
    """Raised by a judge: the observation is wrong. The message is for the student.

    mistake: the known mistake the message names, when one fits (the
             description of a wrong formula from a suite's catalogue, or a
             classic pattern such as "wrong sign"). Such a message is shown
             first, since it says what to fix.
    size:    how many entries the expected answer has, when it is an array:
             among failures alike, the report shows the one with the
             smallest table, which is the easiest to read.
    """

    def __init__(self, message: str, *, mistake: str | None = None, size: int | None = None) -> None:
        super().__init__(message)
        self.mistake = mistake
        self.size = size


@dataclass
class Case:
    exercise: str
    name: str
    run_probe: Callable[[Any], Any]
    run_judge: Callable[[Any], None] | None = None
    timeout: float | None = None  # seconds; None means the exercise's default
    tags: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.exercise}::{self.name}"

    def judge(self, function: Callable[[Any], None]) -> Callable[[Any], None]:
        """Decorator: set the judge of this case."""
        self.run_judge = function
        return function


# Every case declared so far, in declaration order, by id.
REGISTRY: dict[str, Case] = {}


def register(case: Case) -> Case:
    if case.id in REGISTRY:
        raise ValueError(f"two test cases are called {case.id!r}")
    REGISTRY[case.id] = case
    return case


def probe(exercise: str, name: str, *, timeout: float | None = None) -> Callable[[Callable[[Any], Any]], Case]:
    """Decorator: declare a case of `exercise` whose probe is the function."""

    def declare(function: Callable[[Any], Any]) -> Case:
        return register(Case(exercise, name, function, timeout=timeout))

    return declare


def cases_for(exercise_ids: list[str]) -> list[Case]:
    """The cases of these exercises, importing their suites first."""
    from . import suites

    suites.load([exercise_id for exercise_id in exercise_ids])
    wanted = set(exercise_ids)
    return [case for case in REGISTRY.values() if case.exercise in wanted]
