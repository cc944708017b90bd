"""Planted bugs fail their exercise with a message that names them; correct variants pass.

Each fixture is a copy of the reference solutions with one definition
replaced (see tests/mutation.py), run through the real checker, twice: its
exercise alone (with the exercises it builds on, as `check EX` does), and
every exercise at once (as `check` does). A verdict must not depend on which
other cases ran before it, so both runs must give its exercise the same
status and the same message; and a correct variant must leave every
exercise passing, not only its own.

The inputs are those of `make check`, unless BACKPROP_FIXTURE_SEED names a
grading seed (seeds.py): then every fixture is checked on the inputs
`grade` would draw from it. CI runs the fixtures both ways, since no suite
may depend on its inputs being the ones students see.
"""

from __future__ import annotations

import os

import pytest

from checker import manifest
from checker.api import run_check
from tests.mutation import all_fixtures, build_submission

BUGS = all_fixtures("bugs")
VARIANTS = all_fixtures("variants")
SEED = int(os.environ["BACKPROP_FIXTURE_SEED"]) if os.environ.get("BACKPROP_FIXTURE_SEED") else None


def check_alone_and_in_full(fixture, tmp_path):
    """The fixture's exercise result checked alone, and every result of a full check."""
    submission = build_submission(fixture, tmp_path)
    (alone,) = run_check(submission, [manifest.get(fixture.exercise)], seed=SEED).exercises
    full = {
        result.exercise.id: result for result in run_check(submission, list(manifest.EXERCISES), seed=SEED).exercises
    }
    return alone, full


def expect_same_verdict(fixture, alone, in_full):
    assert (alone.status, alone.message) == (in_full.status, in_full.message), (
        f"{fixture.name}: {fixture.exercise} alone: {alone.status}: {alone.message}\n"
        f"in a full check: {in_full.status}: {in_full.message}"
    )


@pytest.mark.parametrize("fixture", BUGS, ids=[fixture.name for fixture in BUGS])
def test_planted_bug_fails_with_a_message_that_names_it(fixture, tmp_path):
    alone, full = check_alone_and_in_full(fixture, tmp_path)
    assert alone.status == fixture.expect, f"{fixture.name}: {alone.status}: {alone.message}"
    for piece in fixture.messages:
        assert piece.lower() in alone.message.lower(), f"{fixture.name}: {piece!r} not in: {alone.message}"
    expect_same_verdict(fixture, alone, full[fixture.exercise])


@pytest.mark.parametrize("fixture", VARIANTS, ids=[fixture.name for fixture in VARIANTS])
def test_correct_variant_passes_every_exercise(fixture, tmp_path):
    alone, full = check_alone_and_in_full(fixture, tmp_path)
    assert alone.status == "passed", f"{fixture.name}: {alone.status}: {alone.message}"
    failing = {
        exercise_id: f"{result.status}: {result.message}"
        for exercise_id, result in full.items()
        if result.status != "passed" and exercise_id not in fixture.also_fails
    }
    assert not failing, f"{fixture.name}: in a full check, these exercises do not pass: {failing}"
    expect_same_verdict(fixture, alone, full[fixture.exercise])


def test_every_exercise_has_at_least_three_planted_bugs():
    counts = {exercise.id: 0 for exercise in manifest.EXERCISES}
    for fixture in BUGS:
        counts[fixture.exercise] += 1
    missing = {exercise_id: count for exercise_id, count in counts.items() if count < 3}
    assert not missing, f"exercises with fewer than three planted bugs: {missing}"


ORDER_FIXTURES = [
    fixture
    for fixture in BUGS + VARIANTS
    if fixture.name
    in (
        "bugs/p2_topo_memo_module_level",
        "variants/p2_backprop_tutorial_with_copies",
        "bugs/p4_sgd_buffer_aliases_grad",
    )
]


@pytest.mark.parametrize("fixture", ORDER_FIXTURES, ids=[fixture.name for fixture in ORDER_FIXTURES])
def test_verdicts_do_not_depend_on_the_order_cases_run_in(fixture, tmp_path):
    """The same code, its cases run first to last and last to first: the same statuses and messages."""
    from checker import judge, runner, seeds
    from checker.api import with_prerequisites
    from checker.cases import cases_for

    seeds.use(SEED)
    submission = build_submission(fixture, tmp_path)
    exercises = with_prerequisites([manifest.get(fixture.exercise)])
    cases = cases_for([exercise.id for exercise in exercises])
    verdicts = []
    for order in (cases, cases[::-1]):
        records = runner.run(submission, order).records
        result = judge.judge_run(str(submission), exercises, cases, records)
        verdicts.append({item.exercise.id: (item.status, item.message) for item in result.exercises})
    assert verdicts[0] == verdicts[1]
    assert verdicts[0][fixture.exercise][0] == fixture.expect
