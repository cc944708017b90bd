"""The Gradescope bundle: build it, unpack it as Gradescope does, run
`run_autograder` against a temporary AUTOGRADER_ROOT, validate results.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from checker import KIT_ROOT, gradescope, manifest
from tests.mutation import splice

SOLUTIONS = KIT_ROOT / "solutions"
WRONG_LOG_BACK = "def log_back(grad_out, out, x):\n    return grad_out * x\n"

TOP_KEYS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "stdout_visibility",
    "visibility",
    "tests",
    "extra_data",
}
TEST_KEYS = {"name", "number", "score", "max_score", "status", "output", "visibility"}
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}


def build(tmp_path: Path, *words: str) -> Path:
    out = tmp_path / "autograder.zip"
    finished = subprocess.run(
        [sys.executable, "-m", "checker", "gradescope", *words, "--out", str(out)],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    return out


def unpack_like_gradescope(bundle: Path, root: Path) -> Path:
    """Unzip into root/source, keeping the executable bits, as Gradescope does."""
    source = root / "source"
    with zipfile.ZipFile(bundle) as archive:
        for entry in archive.infolist():
            target = source / entry.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(entry))
            mode = (entry.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
    (root / "submission").mkdir()
    return source


def run_autograder(root: Path, source: Path) -> dict:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    environment.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    finished = subprocess.run(
        [str(source / "run_autograder")],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads((root / "results" / "results.json").read_text())


def assert_gradescope_format(results: dict) -> None:
    assert set(results) == TOP_KEYS
    assert isinstance(results["score"], float) and isinstance(results["execution_time"], int)
    assert isinstance(results["output"], str) and results["output"]
    assert results["stdout_visibility"] in VISIBILITIES and results["visibility"] in VISIBILITIES
    for test in results["tests"]:
        assert set(test) == TEST_KEYS
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0.0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert (test["status"] == "passed") == (test["score"] == test["max_score"] > 0)
        assert test["visibility"] in VISIBILITIES
    assert results["score"] == pytest.approx(sum(test["score"] for test in results["tests"]))


def test_bundle_holds_the_kit_but_never_the_solutions(tmp_path):
    bundle = build(tmp_path)
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {entry.filename: entry.external_attr >> 16 for entry in archive.infolist()}
        requirements = archive.read("requirements.txt").decode().split()
    for needed in (
        "setup.sh",
        "run_autograder",
        "checker/cli.py",
        "checker/suites/part1.py",
        "exercises/core.py",
        "exercises/part1_backward.py",
    ):
        assert needed in names
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    if (KIT_ROOT / "data" / "digits.csv.gz").exists():
        assert "data/digits.csv.gz" in names
    assert not any(name.startswith(("solutions/", "tests/", ".venv")) or "__pycache__" in name for name in names)
    # setup.sh installs exactly what pyproject.toml depends on.
    declared = re.search(r"dependencies = \[(.*?)\]", (KIT_ROOT / "pyproject.toml").read_text(), re.S).group(1)
    assert sorted(requirements) == sorted(re.findall(r'"([^"]+)"', declared))


@pytest.mark.linux_sandbox  # Gradescope runs Linux, and the bundle refuses to grade without the sandbox
def test_run_autograder_grades_loose_part_files(tmp_path):
    bundle = build(tmp_path, "1")
    root = tmp_path / "autograder"
    source = unpack_like_gradescope(bundle, root)
    part1 = splice((SOLUTIONS / "part1_backward.py").read_text(), WRONG_LOG_BACK)
    (root / "submission" / "part1_backward.py").write_text(part1)
    (root / "submission" / "notes.txt").write_text("not code")
    results = run_autograder(root, source)
    assert_gradescope_format(results)
    by_number = {test["number"]: test for test in results["tests"]}
    assert list(by_number) == ["1.1", "1.2", "1.3", "1.4"]
    assert by_number["1.1"]["status"] == "failed" and "log_back" in by_number["1.1"]["output"]
    assert by_number["1.2"]["score"] == 4.0 and by_number["1.3"]["score"] == 3.0
    assert by_number["1.4"]["score"] == 0.0 and "1.1 log_back" in by_number["1.4"]["output"]
    assert results["score"] == 7.0
    assert "Main score 7/12" in results["output"]


@pytest.mark.linux_sandbox  # Gradescope runs Linux, and the bundle refuses to grade without the sandbox
@pytest.mark.pristine
def test_run_autograder_grades_everything_and_labels_the_bonus(tmp_path):
    bundle = build(tmp_path)
    root = tmp_path / "autograder"
    source = unpack_like_gradescope(bundle, root)
    # A student who uploaded a zip of their whole exercises/ folder.
    shutil.copytree(
        KIT_ROOT / "exercises", root / "submission" / "exercises", ignore=shutil.ignore_patterns("__pycache__")
    )
    results = run_autograder(root, source)
    assert_gradescope_format(results)
    assert [test["number"] for test in results["tests"]] == [exercise.id for exercise in manifest.EXERCISES]
    for test, exercise in zip(results["tests"], manifest.EXERCISES):
        assert test["max_score"] == float(exercise.points)
        assert test["name"].endswith("(bonus)") == exercise.bonus
    assert results["score"] == 0.0  # every stub earns nothing


@pytest.mark.linux_sandbox  # without it the autograder refuses before it looks at the submission
def test_autograde_always_writes_results(tmp_path):
    results_path = tmp_path / "results" / "results.json"
    assert gradescope.autograde(str(tmp_path / "no such folder"), str(results_path)) == 0
    results = json.loads(results_path.read_text())
    assert_gradescope_format(results)
    assert results["score"] == 0.0


def test_gradescope_usage_errors(tmp_path):
    for arguments in (
        ["--out", str(tmp_path / "bundle.tar")],
        ["no_such_exercise", "--out", str(tmp_path / "b.zip")],
        [],
    ):
        finished = subprocess.run(
            [sys.executable, "-m", "checker", "gradescope", *arguments],
            cwd=KIT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert finished.returncode == 2 and finished.stderr.startswith("checker: ") and finished.stderr.count("\n") == 1


def test_autograde_refuses_a_partial_sandbox_unless_the_bundle_allows_it(tmp_path, monkeypatch):
    from checker import runner, sandbox

    partial = sandbox.Confinement(filesystem=True, ptrace=True, user="uid 1", notes=["seccomp left out on purpose"])
    monkeypatch.setattr(runner, "probe_sandbox", lambda limits=runner.Limits(): partial)
    bundle_root = tmp_path / "source"
    bundle_root.mkdir()
    (bundle_root / gradescope.SELECTION_FILE).write_text("1.1\n")
    monkeypatch.setattr(gradescope, "KIT_ROOT", bundle_root)
    submission = tmp_path / "submission"
    shutil.copytree(SOLUTIONS, submission, ignore=shutil.ignore_patterns("__pycache__"))
    results_path = tmp_path / "results" / "results.json"

    assert gradescope.autograde(str(submission), str(results_path)) == 2
    refused = json.loads(results_path.read_text())
    assert refused["score"] == 0.0 and "without the full sandbox" in refused["output"]
    assert refused["extra_data"]["sandbox"]["full"] is False

    (bundle_root / gradescope.ALLOW_PARTIAL_SANDBOX_FILE).write_text("yes\n")
    assert gradescope.autograde(str(submission), str(results_path)) == 0
    graded = json.loads(results_path.read_text())
    assert graded["score"] == 2.0
