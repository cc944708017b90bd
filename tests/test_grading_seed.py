"""Grading draws its hidden inputs from a fresh secret seed; `make check` keeps fixed ones.

The planted cheat (tests/fixtures/hardcoded) answers log_back from a table
of the outputs for the inputs `make check` passes. It must pass `check`,
fail `grade` and the Gradescope run, and a grade must be repeatable with
`--seed`.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from checker import manifest, seeds, suites
from checker.api import run_check
from checker.cases import REGISTRY
from tests.mutation import SOLUTIONS, all_fixtures, build_submission
from tests.test_grade import run_checker
from tests.test_gradescope import build, run_autograder, unpack_like_gradescope

(CHEAT,) = all_fixtures("hardcoded")


def verdicts(result: dict) -> dict:
    """What a grade decides: all of the JSON but the sandbox report (its user id is drawn per run)."""
    return {key: value for key, value in result.items() if key != "sandbox"}


@pytest.fixture(autouse=True)
def fixed_inputs_afterwards():
    """The seed is this process's state: leave it as `make check` has it."""
    yield
    seeds.use(None)


def test_the_same_name_draws_the_same_input_under_the_same_seed_and_others_under_another():
    def draw(seed):
        seeds.use(seed)
        return seeds.rng(11).normal(size=5)

    fixed, first, again, other = draw(None), draw(7), draw(7), draw(8)
    assert np.array_equal(first, again)
    assert not np.array_equal(fixed, first) and not np.array_equal(first, other)
    seeds.use(None)
    assert np.array_equal(draw(None), fixed)
    fixed_case_seed = seeds.case_seed("1.1::x")
    seeds.use(7)
    assert seeds.case_seed("1.1::x") != fixed_case_seed


def test_a_grading_seed_is_a_whole_number_from_zero_up():
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="whole number"):
            seeds.use(bad)
    assert isinstance(seeds.draw(), int) and seeds.draw() != seeds.draw()


def test_suites_are_built_again_when_the_seed_changes():
    def inputs():
        suites.load(["1.2"])
        return [case.name for case in REGISTRY.values() if case.exercise == "1.2"], suites.part1.UNBROADCAST_PATTERNS

    seeds.use(None)
    names, _ = inputs()
    first_module = suites.part1
    seeds.use(5)
    names_again, _ = inputs()
    assert names_again == names  # the same cases, no duplicates
    assert suites.part1 is not first_module  # imported again, from the new seed


def test_hard_coded_answers_pass_check_and_fail_under_a_grading_seed(tmp_path):
    submission = build_submission(CHEAT, tmp_path)
    log_back = [manifest.get("1.1")]
    (fixed,) = run_check(submission, log_back).exercises
    assert fixed.status == "passed", fixed.message
    (graded,) = run_check(submission, log_back, seed=seeds.draw()).exercises
    assert graded.status == "failed" and "log_back" in graded.message


@pytest.mark.parametrize("round_", range(2))
def test_the_reference_passes_everything_whatever_the_seed(round_):
    """No input may be tuned to one seed: a correct solution passes under any (the seed drawn is in the message)."""
    seed = seeds.draw()
    result = run_check(SOLUTIONS, list(manifest.EXERCISES), seed=seed)
    failing = {item.exercise.id: item.message for item in result.exercises if item.status != "passed"}
    assert not failing, f"grading seed {seed}: {failing}"
    assert result.seed == seed and result.to_json()["seed"] == seed


def test_grade_draws_a_fresh_seed_records_it_and_repeats_a_grade_with_it(tmp_path):
    class_dir = tmp_path / "submissions"
    build_submission(CHEAT, tmp_path / "cheat")
    shutil.copytree(tmp_path / "cheat" / "submission", class_dir / "cheat")

    check = run_checker("check", "1.1", "--impl", str(class_dir / "cheat"), "--json", str(tmp_path / "check.json"))
    assert check.returncode == 0, check.stdout
    assert json.loads((tmp_path / "check.json").read_text())["seed"] is None

    def grade(out: str, *seed: str) -> dict:
        finished = run_checker("grade", str(class_dir), "1.1", "--out", str(tmp_path / out), "--jobs", "1", *seed)
        assert finished.returncode == 0, finished.stderr
        return json.loads((tmp_path / out / "cheat.json").read_text())

    first, second = grade("first"), grade("second")
    assert first["exercises"][0]["status"] == "failed"
    assert isinstance(first["seed"], int) and first["seed"] != second["seed"]
    again = grade("again", "--seed", str(first["seed"]))
    assert verdicts(again) == verdicts(first)
    assert (tmp_path / "again" / "grades.csv").read_text().splitlines()[1] == "cheat,0,2,0"


def test_check_repeats_a_grade_with_its_seed_and_rejects_a_bad_one(tmp_path):
    submission = build_submission(CHEAT, tmp_path)
    finished = run_checker(
        "check", "1.1", "--impl", str(submission), "--seed", "random", "--json", str(tmp_path / "a.json")
    )
    drawn = json.loads((tmp_path / "a.json").read_text())
    assert finished.returncode == 1 and isinstance(drawn["seed"], int)
    assert f"grading seed {drawn['seed']}" in " ".join(finished.stdout.split())
    again = run_checker(
        "check", "1.1", "--impl", str(submission), "--seed", str(drawn["seed"]), "--json", str(tmp_path / "b.json")
    )
    assert again.returncode == 1
    assert verdicts(json.loads((tmp_path / "b.json").read_text())) == verdicts(drawn)
    for bad in ("-3", "abc", "1e3"):
        refused = run_checker("check", "1.1", "--seed", bad)
        assert refused.returncode == 2 and "--seed" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    refused = run_checker("grade", str(tmp_path), "--out", str(tmp_path / "o"), "--seed", "random")
    assert refused.returncode == 2 and "--seed" in refused.stderr


def test_gradescope_draws_a_fresh_seed_for_every_submission(tmp_path):
    bundle = build(tmp_path, "1.1")
    seen = []
    for attempt in range(2):
        root = tmp_path / f"autograder{attempt}"
        source = unpack_like_gradescope(bundle, root)
        submission = build_submission(CHEAT, tmp_path / f"cheat{attempt}")
        shutil.copyfile(submission / "part1_backward.py", root / "submission" / "part1_backward.py")
        results = run_autograder(root, source)
        (test,) = results["tests"]
        assert test["status"] == "failed" and test["score"] == 0.0
        seen.append(results["extra_data"]["seed"])
    assert all(isinstance(seed, int) for seed in seen) and seen[0] != seen[1]
