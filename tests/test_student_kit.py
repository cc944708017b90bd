"""The kit works on this machine: the checker starts, lists what this kit
hands out, keeps its command-line contract, finds every file it points to,
and (while exercises/ holds the stubs as shipped) reports every exercise
not started.

This file goes into every student's kit that `checker release` writes, and
runs in the instructor's copy too, where it checks the same of the whole
course. It needs nothing but the checker and exercises/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from checker import KIT_ROOT, manifest


def checker(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "checker", *arguments],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(KIT_ROOT)},
    )


def handed_out() -> list[str]:
    return [exercise.id for exercise in manifest.released()]


def test_the_checker_starts():
    finished = checker("--version")
    assert finished.returncode == 0, finished.stderr
    assert "checker" in finished.stdout


def test_list_shows_exactly_what_this_kit_hands_out():
    finished = checker("list")
    assert finished.returncode == 0, finished.stderr
    listed = re.findall(r"(?m)^(\d+\.\d+|b\.\d+)\s", finished.stdout)
    assert listed == handed_out()


@pytest.mark.pristine
def test_every_exercise_is_not_started(tmp_path):
    report = tmp_path / "result.json"
    finished = checker("check", "--json", str(report))
    assert finished.returncode == 1, finished.stdout + finished.stderr
    result = json.loads(report.read_text())
    assert [entry["id"] for entry in result["exercises"]] == handed_out()
    wrong = {
        entry["id"]: f"{entry['status']}: {entry['message']}"
        for entry in result["exercises"]
        if entry["status"] != "not_started"
    }
    assert not wrong
    assert result["score"] == result["bonus_score"] == 0.0


@pytest.mark.parametrize(
    "arguments", [["check", "no_such_exercise"], ["check", "--impl", "/no/such/folder"], ["no-such-command"]]
)
def test_a_usage_error_exits_2_with_one_line(arguments):
    finished = checker(*arguments)
    assert finished.returncode == 2
    assert finished.stderr.startswith("checker: ") and finished.stderr.count("\n") == 1, finished.stderr


def test_every_file_the_kit_points_to_is_here():
    for exercise in manifest.released():
        assert (KIT_ROOT / exercise.lesson).is_file(), f"{exercise.id}: no lesson {exercise.lesson}"
        assert (KIT_ROOT / "exercises" / f"{exercise.module}.py").is_file(), (
            f"{exercise.id}: no exercises/{exercise.module}.py"
        )
        if exercise.part == "5":
            assert (KIT_ROOT / "data" / "digits.csv.gz").is_file()


def test_every_file_of_exercises_finds_what_it_imports():
    """No file of exercises/ is missing: each module imports, or stops at a stub's
    NotImplementedError (functional.py calls wrap_forward_fn as it imports)."""
    modules = sorted(path.stem for path in (KIT_ROOT / "exercises").glob("*.py") if path.stem != "__init__")
    code = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module('exercises.' + name)\n"
        "    except NotImplementedError:\n"
        "        pass\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code, *modules],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(KIT_ROOT)},
    )
    assert finished.returncode == 0, finished.stderr
