"""`checker release`: a student's kit, built into a temporary folder and
checked from outside, as a student would receive it.

It holds what a student needs and no answer: no file of solutions/ under
any name, no distinctive line of a solution anywhere. Its checker reports
every exercise not started, its own tests pass (run with this kit's Python;
a full `make test` from nothing, which builds a venv, is too slow for the
suite), and a release of part of the course hands out only that part.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from checker import KIT_ROOT, manifest, release
from tests.solution_text import EXERCISES, SOLUTIONS, answer_lines

STUDENT_TARGETS = {"setup", "check", "list", "hint", "watch", "graph", "train", "test"}
INSTRUCTOR_ONLY = (
    "solutions",
    "tests/fixtures",
    "bench",
    "docs/mutation.md",
    "docs/mutation-survivors.md",
    "docs/performance.md",
    "tests/test_agreement.py",
    "tests/solution_text.py",
)


def build(out: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "checker", "release", *arguments, "--out", str(out)],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def in_kit(kit: Path, *arguments: str) -> subprocess.CompletedProcess:
    """The kit's own checker, run from its folder (as `make check` does there)."""
    return subprocess.run(
        [sys.executable, "-m", "checker", *arguments],
        cwd=kit,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(kit)},
    )


@pytest.fixture(scope="module")
def kits(tmp_path_factory) -> dict[str, Path]:
    """The whole course, and Part 2 alone, each built once."""
    root = tmp_path_factory.mktemp("releases")
    built = {}
    for name, words in (("whole", ()), ("part2", ("2",))):
        finished = build(root / name, *words)
        assert finished.returncode == 0, finished.stderr
        built[name] = root / name
    return built


def files_of(kit: Path) -> list[Path]:
    return sorted(path for path in kit.rglob("*") if path.is_file() and "__pycache__" not in path.parts)


def test_the_whole_course_kit_holds_what_a_student_needs(kits):
    kit = kits["whole"]
    names = {path.relative_to(kit).as_posix() for path in files_of(kit)}
    for needed in (
        "README.md",
        "Makefile",
        "pyproject.toml",
        ".gitignore",
        "course.json",
        "checker/cli.py",
        "checker/suites/part5.py",
        "exercises/core.py",
        "exercises/bonus.py",
        "data/digits.csv.gz",
        "data/README.md",
        "docs/course/part1.md",
        "docs/course/bonus.md",
    ):
        assert needed in names, needed
    for secret in INSTRUCTOR_ONLY:
        assert not any(name == secret or name.startswith(secret + "/") for name in names), secret
    assert sorted(name for name in names if name.startswith("tests/")) == sorted(
        f"tests/{name}" for name in release.RELEASED_TESTS
    )
    makefile = (kit / "Makefile").read_text()
    assert set(re.findall(r"(?m)^([a-z]+):", makefile)) == STUDENT_TARGETS
    pyproject = (kit / "pyproject.toml").read_text()
    assert "mutation" not in pyproject and "cosmic-ray" not in pyproject
    assert re.search(r"dependencies = \[(.*?)\]", pyproject, re.S).group(1) == re.search(
        r"dependencies = \[(.*?)\]", (KIT_ROOT / "pyproject.toml").read_text(), re.S
    ).group(1)
    assert ".venv/" in (kit / ".gitignore").read_text().split()
    assert json.loads((kit / "course.json").read_text())["exercises"] == [
        exercise.id for exercise in manifest.EXERCISES
    ]


def test_the_student_readme_describes_only_the_kit(kits):
    readme = (kits["whole"] / "README.md").read_text()
    assert "make check" in readme and "make test" in readme
    for word in ("solutions", "Instructors", "gradescope", "make grade", "make bench", "make mutate", "On GitHub"):
        assert word not in readme, word
    for part in ("1", "2", "3", "4", "5"):
        assert f"| {part} | `{manifest.PART_MODULES[part]}.py` |" in readme
    # The sample report is the real first run: every exercise listed, not started.
    sample = readme.split("$ make check\n", 1)[1].split("```", 1)[0]
    for exercise in manifest.EXERCISES:
        assert re.search(rf"(?m)^·\s+{re.escape(exercise.id)}\s", sample), exercise.id


# Lines of the checker that are also lines of an answer, each judged harmless:
# the checker's own test code calls the students' API as the docstrings say.
SHARED_WITH_THE_CHECKER = {
    "if end_grad is None:": "suites/part2.py branches on backprop's default argument too",
    "return gradient": "suites/part2.py's known-good unbroadcast returns a variable of that name",
    "if param.grad is None:": "suites/part4.py's SGD test looks at .grad as the optimiser does",
    "np.random.seed(seed)": "suites/part4.py seeds NumPy as the docstring of Part 4 suggests",
    "optimiser.zero_grad()": "suites/part4.py drives SGD through the API its docstring defines",
    "optimiser.step()": "suites/part4.py drives SGD through the API its docstring defines",
    "core.grad_tracking_enabled = False": "NoGrad's docstring and hints give this line; suites/part4.py sets up a case with it",
}


def _secrets() -> tuple[set[str], set[str]]:
    """What would give an answer away: the hashes of the files of solutions/ that
    are not also stubs or given code, and the distinctive lines of the answers
    (less those the stubs hold anyway, as specification or given code)."""
    hashes = set()
    for path in SOLUTIONS.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            twin = EXERCISES / path.relative_to(SOLUTIONS)
            if not twin.is_file() or twin.read_bytes() != path.read_bytes():
                hashes.add(hashlib.sha256(path.read_bytes()).hexdigest())
    modules = [path.stem for path in SOLUTIONS.glob("*.py") if path.stem not in (*manifest.GIVEN_MODULES, "__init__")]
    lines = set().union(*(answer_lines(module) for module in modules))
    in_the_stubs = {line.strip() for path in EXERCISES.glob("*.py") for line in path.read_text().splitlines()}
    return hashes, lines - in_the_stubs - set(SHARED_WITH_THE_CHECKER)


@pytest.mark.parametrize("name", ["whole", "part2"])
def test_no_solution_is_in_the_kit_under_any_name(kits, name):
    hashes, answers = _secrets()
    assert hashes and answers  # the comparison has something to find
    for path in files_of(kits[name]):
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() not in hashes, f"{path} is a file of solutions/"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # the gzipped data set
        leaked = sorted({line.strip() for line in text.splitlines()} & answers)
        assert not leaked, f"{path} holds lines of a solution: {leaked[:5]}"


@pytest.mark.parametrize("name", ["whole", "part2"])
def test_its_checker_reports_every_exercise_not_started(kits, name, tmp_path):
    kit = kits[name]
    report = tmp_path / "result.json"
    finished = in_kit(kit, "check", "--json", str(report))
    assert finished.returncode == 1, finished.stdout + finished.stderr
    result = json.loads(report.read_text())
    assert [entry["id"] for entry in result["exercises"]] == json.loads((kit / "course.json").read_text())["exercises"]
    assert {entry["status"] for entry in result["exercises"]} == {"not_started"}


@pytest.mark.parametrize("name", ["whole", "part2"])
def test_its_own_tests_pass(kits, name):
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=kits[name],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "CI": "true", "HOME": str(kits[name])},
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-2000:]
    assert " passed" in finished.stdout and "skipped" not in finished.stdout


def test_a_release_of_part_2_hands_out_part_2_only(kits):
    kit = kits["part2"]
    part2 = [exercise.id for exercise in manifest.select(["2"])]
    assert json.loads((kit / "course.json").read_text()) == {
        "kit": json.loads((kit / "course.json").read_text())["kit"],
        "selection": ["2"],
        "exercises": part2,
    }
    # Part 2's file, and the part files the given code imports; no later part, no bonus.
    assert sorted(path.name for path in (kit / "exercises").glob("*.py")) == sorted(
        ["__init__.py", "core.py", "functional.py", "part1_backward.py", "part2_autograd.py", "part3_ops.py"]
    )
    assert [path.name for path in (kit / "docs" / "course").iterdir()] == ["part2.md"]
    listed = in_kit(kit, "list")
    assert listed.returncode == 0 and re.findall(r"(?m)^(\d+\.\d+|b\.\d+)\s", listed.stdout) == part2
    for word in ("4.1", "3", "bonus", "SGD"):
        refused = in_kit(kit, "check", word)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert "not part of this release" in refused.stderr and "Part 2" in refused.stderr
    readme = (kit / "README.md").read_text()
    assert "| 2 | `part2_autograd.py` |" in readme and "| 1 |" not in readme and "| 3 |" not in readme
    assert "`part1_backward.py` and `part3_ops.py` belong to other parts" in readme


def test_a_part_that_builds_on_earlier_ones_asks_for_the_students_own_files(tmp_path):
    kit = tmp_path / "part4"
    finished = build(kit, "4")
    assert finished.returncode == 0, finished.stderr
    readme = (kit / "README.md").read_text()
    assert "copy your own `part1_backward.py`, `part2_autograd.py` and `part3_ops.py`" in readme
    assert sorted(path.name for path in (kit / "docs" / "course").iterdir()) == [
        "part1.md",
        "part2.md",
        "part3.md",
        "part4.md",
    ]
    refused = in_kit(kit, "check", "3.9")
    assert refused.returncode == 2 and "copy your own part3_ops.py into exercises/" in refused.stderr
    # The checker runs what 4.3 builds on: with the earlier stubs, it is blamed on them.
    report = tmp_path / "result.json"
    assert in_kit(kit, "check", "4.3", "--json", str(report)).returncode == 1
    assert [entry["id"] for entry in json.loads(report.read_text())["exercises"]] == ["4.3"]


def test_a_named_bonus_exercise_is_released_alone(tmp_path):
    kit = tmp_path / "bonus"
    assert build(kit, "b.2").returncode == 0
    assert (kit / "exercises" / "bonus.py").is_file() and (kit / "docs" / "course" / "bonus.md").is_file()
    assert json.loads((kit / "course.json").read_text())["exercises"] == ["b.2"]


def test_a_folder_that_holds_something_is_refused_then_moved_aside_with_force(tmp_path):
    out = tmp_path / "kit"
    out.mkdir()
    (out / "my notes.txt").write_text("mine")
    refused = build(out, "1")
    assert refused.returncode == 2 and refused.stderr.startswith("checker: ") and refused.stderr.count("\n") == 1
    assert "--force" in refused.stderr and [path.name for path in out.iterdir()] == ["my notes.txt"]

    forced = build(out, "1", "--force")
    assert forced.returncode == 0, forced.stderr
    backups = [path for path in tmp_path.iterdir() if path.name.startswith("kit.bak-")]
    assert len(backups) == 1 and (backups[0] / "my notes.txt").read_text() == "mine"
    assert str(backups[0]) in forced.stdout
    assert (out / "course.json").is_file() and not (out / "my notes.txt").exists()
    # An empty folder is simply filled; nothing is left behind beside it.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build(empty, "1").returncode == 0 and (empty / "README.md").is_file()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


def test_a_kit_is_never_written_over_the_instructors_copy_or_into_its_folders(tmp_path, monkeypatch):
    # On a stand-in for the kit's root: were the guard to fail, --force would move that folder aside.
    root = tmp_path / "instructor" / "kit"
    for folder in ("exercises", "docs", "solutions"):
        (root / folder).mkdir(parents=True)
    monkeypatch.setattr(release, "KIT_ROOT", root)
    for out in (root, root.parent, root / "exercises" / "kit", root / "docs"):
        with pytest.raises(release.Refused, match="somewhere else"):
            release.build(out, ["1"], force=True)
    assert sorted(path.name for path in root.iterdir()) == ["docs", "exercises", "solutions"]


@pytest.mark.parametrize("arguments", [["no_such_exercise"], ["9.9"], []])
def test_release_usage_errors(tmp_path, arguments):
    if arguments:
        finished = build(tmp_path / "kit", *arguments)
    else:  # no --out
        finished = subprocess.run(
            [sys.executable, "-m", "checker", "release"], cwd=KIT_ROOT, capture_output=True, text=True, timeout=60
        )
    assert finished.returncode == 2 and finished.stderr.startswith("checker: ") and finished.stderr.count("\n") == 1
    assert not (tmp_path / "kit").exists()


def test_the_course_file_decides_what_a_kit_hands_out(tmp_path, monkeypatch):
    course = tmp_path / "course.json"
    monkeypatch.setattr(manifest, "COURSE_FILE", course)
    assert manifest.released() == list(manifest.EXERCISES)  # no file: the whole course
    course.write_text(json.dumps({"exercises": ["2.4", "b.1"]}))
    assert [exercise.id for exercise in manifest.released()] == ["2.4", "b.1"]
    assert [exercise.id for exercise in manifest.select([])] == ["2.4", "b.1"]
    assert [exercise.id for exercise in manifest.select(["topological_sort"])] == ["2.4", "b.1"]
    assert [exercise.id for exercise in manifest.select(["2"])] == ["2.4"]  # a part: its released exercises
    assert manifest.optional_bonus([]) == {"b.1"}
    with pytest.raises(manifest.UnknownExercise, match="not part of this release"):
        manifest.select(["2.6"])
    with pytest.raises(manifest.UnknownExercise, match="no exercise, part or function"):
        manifest.select(["nothing"])
    for damaged in ("{", json.dumps({"exercises": []}), json.dumps({"exercises": ["9.9"]}), json.dumps(["2.4"])):
        course.write_text(damaged)
        with pytest.raises(manifest.DamagedCourseFile):
            manifest.select([])
