"""Planted bugs fail their exercise with a message that names them; correct variants pass.

Each fixture is a copy of the reference solutions with one definition
replaced (see tests/mutation.py), run through the real checker.
"""

from __future__ import annotations

import pytest

from checker import manifest
from checker.api import run_check
from tests.mutation import all_fixtures, build_submission

BUGS = all_fixtures("bugs")
VARIANTS = all_fixtures("variants")


def check_fixture(fixture, tmp_path):
    submission = build_submission(fixture, tmp_path)
    result = run_check(submission, [manifest.get(fixture.exercise)])
    (exercise_result,) = result.exercises
    return exercise_result


@pytest.mark.parametrize("fixture", BUGS, ids=[fixture.name for fixture in BUGS])
def test_planted_bug_fails_with_a_message_that_names_it(fixture, tmp_path):
    result = check_fixture(fixture, tmp_path)
    assert result.status == fixture.expect, f"{fixture.name}: {result.status}: {result.message}"
    for piece in fixture.messages:
        assert piece.lower() in result.message.lower(), f"{fixture.name}: {piece!r} not in: {result.message}"


@pytest.mark.parametrize("fixture", VARIANTS, ids=[fixture.name for fixture in VARIANTS])
def test_correct_variant_passes(fixture, tmp_path):
    result = check_fixture(fixture, tmp_path)
    assert result.status == "passed", f"{fixture.name}: {result.status}: {result.message}"


def test_every_exercise_has_at_least_three_planted_bugs():
    counts = {exercise.id: 0 for exercise in manifest.EXERCISES}
    for fixture in BUGS:
        counts[fixture.exercise] += 1
    missing = {exercise_id: count for exercise_id, count in counts.items() if count < 3}
    assert not missing, f"exercises with fewer than three planted bugs: {missing}"
