"""`checker classroom`: GitHub Classroom's autograding files.

The files are generated into a temporary folder and parsed (the workflow
with PyYAML, the older autograding.json as JSON): one test per exercise,
with the manifest's points, the same tests in both files, and a reporter
that reads every grader step. Then every generated command runs here, as
the command grader runs it (from the repository's root, with only PATH,
HOME and FORCE_COLOR): in a kit whose exercises/ holds the reference
solutions each exits 0, in the kit as released (the stubs) each exits
1, not passed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from checker import KIT_ROOT, classroom, manifest

yaml = pytest.importorskip("yaml")


MAIN = [exercise for exercise in manifest.EXERCISES if not exercise.bonus]


def generate(out: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "checker", "classroom", *arguments, "--out", str(out)],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read(root: Path) -> tuple[list[dict], dict, list[dict]]:
    """(grader steps, reporter step, autograding.json's tests) of the files under `root`."""
    workflow = yaml.safe_load((root / classroom.WORKFLOW_FILE).read_text())
    assert set(workflow["on"]) >= {"push", "repository_dispatch"}
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    graders = [step for step in steps if step.get("uses") == classroom.GRADER_ACTION]
    reporter = steps[-1]
    assert reporter["uses"] == classroom.REPORTER_ACTION
    tests = json.loads((root / classroom.AUTOGRADING_FILE).read_text())["tests"]
    return graders, reporter, tests


def expected_name(exercise: manifest.Exercise) -> str:
    return f"{exercise.id} {exercise.title}" + (" (bonus)" if exercise.bonus else "")


def test_one_test_per_main_exercise_with_its_points_in_both_files(tmp_path):
    finished = generate(tmp_path)
    assert finished.returncode == 0, finished.stderr
    graders, reporter, tests = read(tmp_path)
    assert [step["with"]["test-name"] for step in graders] == [expected_name(exercise) for exercise in MAIN]
    assert [step["with"]["max-score"] for step in graders] == [exercise.points for exercise in MAIN]
    assert sum(step["with"]["max-score"] for step in graders) == manifest.MAIN_POINTS
    for step, test, exercise in zip(graders, tests, MAIN, strict=True):
        assert step["with"]["command"] == test["run"] == classroom.check_command(exercise.id)
        assert test["run"].endswith(f"-m checker check {exercise.id} --seed random")
        assert step["with"]["setup-command"] == test["setup"] == classroom.SETUP_COMMAND
        assert step["with"]["timeout"] == test["timeout"] == classroom.TIMEOUT_MINUTES
        assert (test["name"], test["points"]) == (step["with"]["test-name"], step["with"]["max-score"])
        assert (test["input"], test["output"], test["comparison"]) == ("", "", "included")
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", step["id"])
    # The reporter reads each grader's result from <STEP ID upper-cased>_RESULTS.
    ids = [step["id"] for step in graders]
    assert len(set(ids)) == len(ids) and reporter["with"]["runners"].split(",") == ids
    assert reporter["env"] == {
        f"{step_id.upper()}_RESULTS": f"${{{{steps.{step_id}.outputs.result}}}}" for step_id in ids
    }


def test_the_bonus_gets_tests_only_when_named(tmp_path):
    assert generate(tmp_path, "2", "b").returncode == 0
    graders, _, tests = read(tmp_path)
    chosen = manifest.select(["2", "b"])
    assert (
        [step["with"]["test-name"] for step in graders]
        == [test["name"] for test in tests]
        == [expected_name(exercise) for exercise in chosen]
    )
    assert any(exercise.bonus for exercise in chosen)


def test_different_files_are_refused_then_moved_aside_with_force(tmp_path):
    assert generate(tmp_path, "1").returncode == 0
    first = (tmp_path / classroom.WORKFLOW_FILE).read_text()
    assert generate(tmp_path, "1").returncode == 0  # the same files again: nothing to keep
    refused = generate(tmp_path, "2")
    assert refused.returncode == 2 and refused.stderr.startswith("checker: ") and refused.stderr.count("\n") == 1
    assert "--force" in refused.stderr and (tmp_path / classroom.WORKFLOW_FILE).read_text() == first
    forced = generate(tmp_path, "2", "--force")
    assert forced.returncode == 0, forced.stderr
    backups = sorted((tmp_path / ".github").rglob("*.bak-*"))
    assert len(backups) == 2 and any(backup.read_text() == first for backup in backups)
    assert all(str(backup) in forced.stdout for backup in backups)
    assert "check 2.1" in (tmp_path / classroom.WORKFLOW_FILE).read_text()


@pytest.mark.parametrize("arguments", [["no_such_exercise"], ["--out", "/no/such/folder"]])
def test_classroom_usage_errors(tmp_path, arguments):
    finished = subprocess.run(
        [sys.executable, "-m", "checker", "classroom", *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(KIT_ROOT)},
    )
    assert finished.returncode == 2 and finished.stderr.startswith("checker: ") and finished.stderr.count("\n") == 1
    assert not (tmp_path / ".github").exists()


def run_like_the_grader(kit: Path, command: str) -> int:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(kit), "FORCE_COLOR": "true"}
    return subprocess.run(command, shell=True, cwd=kit, env=environment, capture_output=True, timeout=600).returncode


def test_every_command_passes_on_the_solutions_and_fails_on_the_stubs(tmp_path):
    if sys.prefix == sys.base_prefix:
        pytest.skip("the commands run the kit's .venv/bin/python: run the tests from a venv (make test does)")
    stubs = tmp_path / "kit"
    built = subprocess.run(
        [sys.executable, "-m", "checker", "release", "--classroom", "--out", str(stubs)],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    assert "## On GitHub" in (stubs / "README.md").read_text()  # the students' README says what runs on push
    solved = tmp_path / "solved"
    shutil.copytree(stubs, solved)
    # A student who solved everything: every exercise file answered, the given code as handed out.
    for answered in (KIT_ROOT / "solutions").glob("*.py"):
        if answered.name != "__init__.py":
            shutil.copyfile(answered, solved / "exercises" / answered.name)
    for kit in (stubs, solved):
        # `make setup` would build a venv from the network: this one has everything already.
        (kit / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    _, _, tests = read(stubs)
    commands = [test["run"] for test in tests]
    with ThreadPoolExecutor(max_workers=2) as pool:
        on_solutions = list(pool.map(lambda command: run_like_the_grader(solved, command), commands))
        on_stubs = list(pool.map(lambda command: run_like_the_grader(stubs, command), commands))
    assert {command: status for command, status in zip(commands, on_solutions) if status != 0} == {}
    # Exit status 1: the exercise did not pass (2 would be a usage error, a broken command).
    assert {command: status for command, status in zip(commands, on_stubs) if status != 1} == {}
