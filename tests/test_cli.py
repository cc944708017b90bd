"""The command line contract (README; JSON in results.py): exit status, JSON, selection, `list`.

Every test runs the real `python -m checker` in a subprocess. Part 1 keeps
them quick; selection is checked across parts on `exercises/` (stubs fail fast).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from checker import KIT_ROOT, __version__, manifest

SOLUTIONS = KIT_ROOT / "solutions"

TOP_KEYS = {"impl", "score", "max_score", "bonus_score", "bonus_max_score", "exercises", "sandbox", "seed"}
EXERCISE_KEYS = {"id", "title", "functions", "status", "score", "max_score", "message", "tests"}
TEST_KEYS = {"name", "status", "message"}
STATUSES = {"passed", "failed", "not_started", "error", "timeout"}


def checker(*arguments: str, cwd: Path = KIT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "checker", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        env=bare_environment(),
    )


def bare_environment() -> dict[str, str]:
    """Next to nothing of ours: the kit is found through PYTHONPATH (or the venv) alone."""
    environment = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(KIT_ROOT)}
    if sys.platform == "win32":
        # Python cannot start on Windows without SYSTEMROOT (its random numbers come from there).
        environment.update(PATH=os.environ["PATH"], SYSTEMROOT=os.environ["SYSTEMROOT"])
    return environment


@pytest.fixture(scope="module")
def renamed_solutions(tmp_path_factory) -> Path:
    """The solutions, copied to a folder whose name is no Python identifier."""
    target = tmp_path_factory.mktemp("elsewhere") / "my answers (v2)-final"
    shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_renamed_solutions_pass_with_exit_0_and_the_json_contract(renamed_solutions, tmp_path):
    report = tmp_path / "out" / "result.json"
    finished = checker("check", "1", "--impl", str(renamed_solutions), "--json", str(report))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    result = json.loads(report.read_text())
    assert set(result) == TOP_KEYS
    assert result["impl"] == str(renamed_solutions)
    assert result["score"] == result["max_score"] == sum(exercise.points for exercise in manifest.select(["1"]))
    assert result["bonus_score"] == result["bonus_max_score"] == 0.0
    for exercise, entry in zip(manifest.select(["1"]), result["exercises"]):
        assert set(entry) == EXERCISE_KEYS
        assert entry["id"] == exercise.id and entry["title"] == exercise.title
        assert entry["functions"] == list(exercise.functions)
        assert entry["status"] == "passed" and entry["score"] == entry["max_score"] == float(exercise.points)
        assert entry["tests"] and all(set(test) == TEST_KEYS and test["status"] == "passed" for test in entry["tests"])


@pytest.mark.pristine
def test_stubs_exit_1_and_are_not_started(tmp_path):
    report = tmp_path / "result.json"
    finished = checker("check", "--impl", str(KIT_ROOT / "exercises"), "--json", str(report))
    assert finished.returncode == 1
    result = json.loads(report.read_text())
    assert set(result) == TOP_KEYS
    assert [entry["id"] for entry in result["exercises"]] == [exercise.id for exercise in manifest.EXERCISES]
    assert {entry["status"] for entry in result["exercises"]} == {"not_started"}
    assert result["score"] == result["bonus_score"] == 0.0
    assert result["max_score"] == sum(exercise.points for exercise in manifest.EXERCISES if not exercise.bonus)
    assert result["bonus_max_score"] == sum(exercise.points for exercise in manifest.EXERCISES if exercise.bonus)
    for entry in result["exercises"]:
        assert entry["status"] in STATUSES and set(entry) == EXERCISE_KEYS


@pytest.mark.pristine
def test_default_impl_is_exercises(tmp_path):
    report = tmp_path / "result.json"
    finished = checker("check", "1.1", "--json", str(report))
    assert finished.returncode == 1
    assert json.loads(report.read_text())["exercises"][0]["status"] == "not_started"


@pytest.mark.parametrize(
    "words, expected",
    [
        (["1.2"], ["1.2"]),
        (["1"], ["1.1", "1.2", "1.3", "1.4"]),
        (["multiply_back1"], ["1.3"]),
        (["unbroadcast", "1.1"], ["1.1", "1.2"]),  # course order, whatever the order asked
        (["2.4", "bonus"], ["2.4"] + [exercise.id for exercise in manifest.EXERCISES if exercise.bonus]),
    ],
)
@pytest.mark.pristine
def test_selection_by_id_part_and_function_name(words, expected, tmp_path):
    report = tmp_path / "result.json"
    finished = checker("check", *words, "--impl", str(KIT_ROOT / "exercises"), "--json", str(report))
    assert finished.returncode == 1
    assert [entry["id"] for entry in json.loads(report.read_text())["exercises"]] == expected


@pytest.mark.parametrize(
    "arguments",
    [
        ["check", "no_such_exercise"],
        ["check", "9.9"],
        ["check", "--impl", "/no/such/folder"],
        ["check", "--no-such-option"],
        ["no-such-command"],
        [],
    ],
)
def test_usage_errors_exit_2_with_one_line(arguments):
    finished = checker(*arguments)
    assert finished.returncode == 2
    assert finished.stderr.startswith("checker: ") and finished.stderr.count("\n") == 1, finished.stderr


def test_list_shows_the_syllabus():
    finished = checker("list")
    assert finished.returncode == 0
    for exercise in manifest.EXERCISES:
        assert exercise.id in finished.stdout


def test_version():
    finished = checker("--version")
    assert finished.returncode == 0 and __version__ in finished.stdout


def test_runs_from_any_folder(renamed_solutions, tmp_path):
    # The kit is found through PYTHONPATH (or the venv), not through the current folder.
    finished = checker("check", "1.1", "--impl", str(renamed_solutions), cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr


# --- Python 3.10 compatibility of the kit's own code ------------------------------

_NEWER_THAN_3_10 = (
    "import tomllib",
    "ExceptionGroup",
    "except*",
    "typing.Self",
    "from typing import Self",
    "datetime.UTC",
)


@pytest.mark.parametrize("folder", ["checker", "exercises", "solutions"])
def test_kit_code_is_python_3_10(folder):
    import ast

    for path in sorted((KIT_ROOT / folder).rglob("*.py")):
        source = path.read_text()
        ast.parse(source, filename=str(path), feature_version=(3, 10))
        for construct in _NEWER_THAN_3_10:
            assert construct not in source, f"{path.relative_to(KIT_ROOT)} uses {construct} (Python 3.11+)"
        # co_qualname exists from 3.11 on: only through getattr with a fallback.
        for line in source.splitlines():
            assert ".co_qualname" not in line, f"{path.relative_to(KIT_ROOT)}: {line.strip()}"


def test_a_plain_check_leaves_the_bonus_optional_and_a_named_bonus_decides(tmp_path):
    """A finished main course ends green even with the bonus open; `check b` is decided by the bonus."""
    submission = tmp_path / "finished"
    shutil.copytree(KIT_ROOT / "solutions", submission, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(KIT_ROOT / "exercises" / "bonus.py", submission / "bonus.py")
    finished = checker("check", "--impl", str(submission))
    assert finished.returncode == 0, finished.stdout[-2000:]
    assert "course complete" in finished.stdout and "Optional bonus still open" in finished.stdout
    assert checker("check", "b", "--impl", str(submission)).returncode == 1
    assert checker("check", "b.2", "--impl", str(submission)).returncode == 1
