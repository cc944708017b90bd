"""The promises to other systems, kept where they are written: the CI
workflow runs the kit's tests on Linux, macOS and Windows with the oldest and
the newest Python, and the README gives every make target a command that
needs no make (Windows has none)."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import yaml

from checker import KIT_ROOT

WORKFLOW = KIT_ROOT / ".github" / "workflows" / "tests.yml"


def load_workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_the_workflow_runs_on_three_systems_with_two_pythons():
    (job,) = load_workflow()["jobs"].values()
    matrix = job["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    # Strings: unquoted, YAML reads 3.10 as the number 3.1.
    assert set(matrix["python"]) == {"3.10", "3.13"}
    assert job["runs-on"] == "${{ matrix.os }}"
    assert job["strategy"].get("fail-fast") is False  # one system failing hides none of the others


def test_the_workflow_runs_the_tests_everywhere():
    (job,) = load_workflow()["jobs"].values()
    commands = {step.get("if", "always"): [] for step in job["steps"]}
    for step in job["steps"]:
        commands[step.get("if", "always")].append(step.get("run", ""))
    assert any("make test" in command or ".ci/run" in command for command in commands["runner.os == 'Linux'"])
    elsewhere = " && ".join(commands["runner.os != 'Linux'"])
    assert '-e ".[dev]"' in elsewhere and "-m pytest" in elsewhere
    assert job["env"]["CI"] == "true"  # the pristine checks run (tests/conftest.py)


def test_every_make_target_has_a_command_in_the_readme():
    makefile = (KIT_ROOT / "Makefile").read_text(encoding="utf-8")
    # The student targets, and after them the instructors' (a student's kit keeps only the former).
    targets = [target for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for target in line.split()]
    readme = (KIT_ROOT / "README.md").read_text(encoding="utf-8")
    rows = {match.group(1): match.group(2) for match in re.finditer(r"^\| `make (\w+)[^`]*` \| (.*)$", readme, re.M)}
    assert set(targets) == set(rows), "README's table of commands (Without make) and the Makefile's targets differ"
    for target, rest in rows.items():
        assert ".venv/bin/python -m " in rest, f"make {target}: no `python -m` command in README"


def test_the_console_script_is_the_checker(tmp_path):
    """`backprop-kit` (pyproject.toml's [project.scripts]), as `pip install -e .` (make setup) installs it."""
    script = Path(sysconfig.get_path("scripts")) / ("backprop-kit.exe" if sys.platform == "win32" else "backprop-kit")
    assert script.exists(), f"no {script}: install the kit with pip install -e '.[dev]' (make setup does)"
    finished = subprocess.run(
        [str(script), "list"], cwd=tmp_path, capture_output=True, text=True, encoding="utf-8", timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert "log_back" in finished.stdout
