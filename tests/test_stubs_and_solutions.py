"""The kit's `dev check`: every stub is not started, every solution passes."""

from __future__ import annotations

import pytest

from checker import manifest
from checker.api import run_check
from tests.mutation import KIT_ROOT


@pytest.mark.pristine
def test_every_stub_is_not_started():
    result = run_check(KIT_ROOT / "exercises", list(manifest.EXERCISES))
    wrong = {r.exercise.id: f"{r.status}: {r.message}" for r in result.exercises if r.status != "not_started"}
    assert not wrong
    assert result.score == 0.0


def test_every_solution_passes():
    result = run_check(KIT_ROOT / "solutions", list(manifest.EXERCISES))
    wrong = {r.exercise.id: f"{r.status}: {r.message}" for r in result.exercises if r.status != "passed"}
    assert not wrong
    assert result.score == result.max_score == manifest.MAIN_POINTS
