"""Batch grading: `python -m checker grade SUBMISSIONS --out DIR`.

A class of five: a correct folder, a partial one handed in as a zip, an
empty folder, a hostile one (tests/fixtures/submissions/hostile: it kills the
other submissions' processes, forges the outputs, leaves a process behind,
loops, exits and hoards memory), and loose part files as a learning platform
exports them. Part 1 only, to keep the test quick: the machinery is the same
for every part.
"""

from __future__ import annotations

import csv
import json
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from checker import KIT_ROOT, manifest, submissions
from checker.grade import Grade, csv_text, most_failed, score_distribution
from tests.mutation import splice

SOLUTIONS = KIT_ROOT / "solutions"
HOSTILE = Path(__file__).resolve().parent / "fixtures" / "submissions" / "hostile"

WRONG_LOG_BACK = "def log_back(grad_out, out, x):\n    return grad_out * x\n"
PART1 = [exercise.id for exercise in manifest.select(["1"])]
CHECK_JSON_KEYS = {"impl", "score", "max_score", "bonus_score", "bonus_max_score", "exercises", "sandbox", "seed"}


def run_checker(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "checker", *arguments],
        cwd=KIT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_class(root: Path) -> Path:
    """The five submissions, as an instructor would receive them."""
    class_dir = root / "submissions"
    class_dir.mkdir()
    shutil.copytree(SOLUTIONS, class_dir / "correct", ignore=shutil.ignore_patterns("__pycache__"))

    # partial: a zip of a whole `exercises/` folder, Part 1 done but log_back wrong
    partial = root / "partial" / "exercises"
    shutil.copytree(KIT_ROOT / "exercises", partial, ignore=shutil.ignore_patterns("__pycache__"))
    (partial / "part1_backward.py").write_text(splice((SOLUTIONS / "part1_backward.py").read_text(), WRONG_LOG_BACK))
    with zipfile.ZipFile(class_dir / "partial.zip", "w") as archive:
        for path in sorted(partial.rglob("*.py")):
            archive.write(path, path.relative_to(root / "partial").as_posix())

    (class_dir / "empty").mkdir()
    shutil.copytree(HOSTILE, class_dir / "hostile")
    shutil.copyfile(SOLUTIONS / "part1_backward.py", class_dir / "zoe_12345_part1_backward.py")
    return class_dir


# Grading refuses to start without the full sandbox (--allow-partial-sandbox
# is for instructors who accept the risk): the tests of a real class need it.
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    class_dir = make_class(root)
    out = root / "out"
    finished = run_checker("grade", str(class_dir), "1", "--out", str(out), "--jobs", "2")
    return finished, out


def read_csv(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    with open(path, newline="") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), {row["submission"]: row for row in reader}


@pytest.mark.pristine
@pytest.mark.linux_sandbox
def test_grade_writes_honest_grades_for_the_whole_class(graded):
    finished, out = graded
    assert finished.returncode == 0, finished.stderr
    header, rows = read_csv(out / "grades.csv")
    assert header == ["submission", "score", "max_score", *PART1]
    assert sorted(rows) == ["correct", "empty", "hostile", "partial", "zoe_12345"]

    expected = {
        "correct": {"1.1": "2", "1.2": "4", "1.3": "3", "1.4": "3"},
        "partial": {"1.1": "0", "1.2": "4", "1.3": "3", "1.4": "0"},  # 1.4 builds on the wrong log_back
        "empty": {"1.1": "0", "1.2": "0", "1.3": "0", "1.4": "0"},
        "hostile": {"1.1": "2", "1.2": "0", "1.3": "0", "1.4": "0"},  # its one honest pass
        "zoe_12345": {"1.1": "2", "1.2": "4", "1.3": "3", "1.4": "3"},  # the platform's prefix, kept whole
    }
    for name, scores in expected.items():
        row = rows[name]
        assert {exercise: row[exercise] for exercise in PART1} == scores, (name, row)
        assert float(row["score"]) == sum(float(value) for value in scores.values())
        assert row["max_score"] == "12"


@pytest.mark.pristine
@pytest.mark.linux_sandbox
def test_grade_writes_the_check_json_of_each_submission(graded):
    _, out = graded
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["grades.csv", "correct.json", "partial.json", "empty.json", "hostile.json", "zoe_12345.json"]
    )
    statuses = {}
    for name in ("correct", "partial", "empty", "hostile", "zoe_12345"):
        result = json.loads((out / f"{name}.json").read_text())
        assert set(result) == CHECK_JSON_KEYS
        assert result["impl"] == name
        assert [exercise["id"] for exercise in result["exercises"]] == PART1
        statuses[name] = {exercise["id"]: exercise["status"] for exercise in result["exercises"]}
    assert set(statuses["empty"].values()) == {"not_started"}
    assert statuses["partial"]["1.1"] == "failed"
    assert statuses["hostile"]["1.2"] == "timeout"
    assert statuses["hostile"]["1.4"] in ("error", "failed")


@pytest.mark.linux_sandbox
def test_grade_prints_a_summary(graded):
    finished, _ = graded
    assert "Graded 5 submissions" in finished.stdout
    assert "Scores" in finished.stdout and "100%" in finished.stdout
    assert "Most failed exercises" in finished.stdout
    assert "1.1" in finished.stdout  # log_back: failed by partial


@pytest.mark.linux_sandbox
def test_grade_leaves_no_process_behind(graded):
    # The hostile submission's detached forger would rewrite grades.csv within a second.
    _, out = graded
    import time

    before = (out / "grades.csv").read_text()
    time.sleep(1.5)
    assert (out / "grades.csv").read_text() == before
    assert "hostile,2,12" in before


def test_grade_usage_errors(tmp_path):
    missing = run_checker("grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("checker: ")
    unknown = run_checker("grade", str(tmp_path), "no_such_exercise", "--out", str(tmp_path / "out"))
    assert unknown.returncode == 2 and unknown.stderr.startswith("checker: ")
    no_out = run_checker("grade", str(tmp_path))
    assert no_out.returncode == 2 and no_out.stderr.count("\n") == 1


# --- finding and staging submissions (no checking) --------------------------------


def test_discover_names_every_kind_of_submission(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann.zip").write_bytes(b"")  # the same name twice: both kept
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "bo_part1_backward.py").write_text("")
    (tmp_path / "bo_part2_autograd.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    found = submissions.discover(tmp_path)
    assert [(submission.name, submission.kind) for submission in found] == [
        ("ann", "folder"),
        ("ann-2", "zip"),
        ("bo", "loose"),
    ]
    assert sorted(found[2].loose_files) == ["part1_backward", "part2_autograd"]


def test_loose_files_without_a_prefix_are_one_submission(tmp_path):
    folder = tmp_path / "kim"
    folder.mkdir()
    shutil.copyfile(SOLUTIONS / "part1_backward.py", folder / "part1_backward.py")
    (found,) = submissions.discover(folder)
    assert found.name == "kim"
    staged = submissions.stage(found, tmp_path / "work")
    assert (staged.folder / "part1_backward.py").read_bytes() == (SOLUTIONS / "part1_backward.py").read_bytes()
    assert "part2_autograd" in staged.missing


def test_a_wrapped_folder_is_looked_through(tmp_path):
    inner = tmp_path / "lee" / "backprop-kit-main" / "exercises"
    inner.mkdir(parents=True)
    (tmp_path / "lee" / "backprop-kit-main" / "solutions").mkdir()
    (inner / "part1_backward.py").write_text("# mine\n")
    staged = submissions.stage(submissions.Submission("lee", tmp_path / "lee", "folder"), tmp_path / "work")
    assert (staged.folder / "part1_backward.py").read_text() == "# mine\n"
    assert staged.found == ["part1_backward"]


def test_a_symlink_is_never_followed(tmp_path):
    secret = tmp_path / "someone_else.py"
    secret.write_text("SECRET = 1\n")
    folder = tmp_path / "sly"
    folder.mkdir()
    (folder / "part1_backward.py").symlink_to(secret)
    staged = submissions.stage(submissions.Submission("sly", folder, "folder"), tmp_path / "work")
    assert "SECRET" not in (staged.folder / "part1_backward.py").read_text()  # the stub, not the link's target


def test_an_unsafe_zip_cannot_escape(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../escaped.py", "x = 1\n")
        bundle.writestr("/tmp/absolute_escape_backprop_kit.py", "x = 1\n")
        bundle.writestr("sub/../../escaped_too.py", "x = 1\n")
        link = zipfile.ZipInfo("part2_autograd.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(link, "/etc/passwd")
        bundle.writestr("part1_backward.py", "# honest\n")
    work = tmp_path / "work"
    staged = submissions.stage(submissions.Submission("evil", archive, "zip"), work)
    assert not (tmp_path / "escaped.py").exists() and not (tmp_path / "escaped_too.py").exists()
    assert not Path("/tmp/absolute_escape_backprop_kit.py").exists()
    assert (staged.folder / "part1_backward.py").read_text() == "# honest\n"
    assert "part2_autograd" in staged.missing  # the symlink entry was skipped
    assert not any(path.is_symlink() for path in work.rglob("*"))


def test_a_zip_bomb_or_a_broken_zip_is_a_bad_submission(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("part1_backward.py", "#" * (submissions.MAX_FILE_BYTES + 10))
    with pytest.raises(submissions.BadSubmission):
        submissions.stage(submissions.Submission("bomb", bomb, "zip"), tmp_path / "one")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(submissions.BadSubmission):
        submissions.stage(submissions.Submission("broken", broken, "zip"), tmp_path / "two")


# --- the CSV and the summary, from made-up grades ---------------------------------


def _grade(name: str, statuses: dict[str, str]) -> Grade:
    exercises = []
    for exercise in manifest.EXERCISES:
        status = statuses.get(exercise.id, "not_started")
        points = float(exercise.points) if status == "passed" else 0.0
        exercises.append({"id": exercise.id, "status": status, "score": points, "max_score": float(exercise.points)})
    main = [entry for entry, exercise in zip(exercises, manifest.EXERCISES) if not exercise.bonus]
    return Grade(
        name,
        {
            "score": sum(entry["score"] for entry in main),
            "max_score": sum(entry["max_score"] for entry in main),
            "exercises": exercises,
        },
    )


def test_csv_has_one_column_per_exercise_in_course_order():
    grades = [_grade("a", {"1.1": "passed", "b.2": "passed"}), _grade("b", {})]
    lines = csv_text(grades, list(manifest.EXERCISES)).splitlines()
    assert lines[0].split(",") == [
        "submission",
        "score",
        "max_score",
        *[exercise.id for exercise in manifest.EXERCISES],
    ]
    first = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert first["score"] == "2" and first["1.1"] == "2" and first["b.2"] == "2"


def test_summary_counts():
    grades = [_grade("a", {"1.1": "passed", "1.2": "failed"}), _grade("b", {"1.2": "timeout", "1.3": "failed"})]
    distribution = dict(score_distribution(grades))
    assert distribution["0-10%"] == 2 and sum(distribution.values()) == 2
    worst = most_failed(grades, list(manifest.EXERCISES))
    assert worst[0][0].id == "1.2" and worst[0][1] == {"failed": 1, "timeout": 1}
