"""`python -m checker classroom [--out DIR] [EXERCISE ...]`: GitHub Classroom's autograding files.

Written under DIR (the student's kit that serves as the assignment's
template repository; by default the current folder):

- `.github/workflows/classroom.yml`, the workflow that current Classroom
  assignments run on each push: one `classroom-resources/autograding-command-grader@v1`
  step per exercise (inputs test-name, setup-command, command, timeout in
  minutes, max-score), then `classroom-resources/autograding-grading-reporter@v1`,
  which reads each step's result from the variable `<STEP ID>_RESULTS` and
  reports the points to Classroom;
- `.github/classroom/autograding.json`, the same tests in the older format
  Classroom reads: {"tests": [{name, setup, run, input, output, comparison,
  timeout (minutes), points}]}.

Each test runs `check <id>`, whose exit status is 0 exactly when that
exercise passes, and scores the exercise's points. The bonus gets tests only
when the selection names it, so that the assignment's total stays the main
one. Students control their repository, its workflow included: these
points are feedback, not a gradebook (README, Instructors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import kit, manifest
from .manifest import Exercise

WORKFLOW_FILE = ".github/workflows/classroom.yml"
AUTOGRADING_FILE = ".github/classroom/autograding.json"
GRADER_ACTION = "classroom-resources/autograding-command-grader@v1"
REPORTER_ACTION = "classroom-resources/autograding-grading-reporter@v1"

# Each test's setup: the kit's own, idempotent (the first test creates .venv/, the others find it).
SETUP_COMMAND = "make setup"
# Minutes a test may take, its setup included: the first one installs NumPy and the rest.
TIMEOUT_MINUTES = 10


def check_command(exercise_id: str) -> str:
    """The command a test runs; exit status 0 exactly when the exercise passes.

    The kit's own Python, as everywhere in the kit: the graders run commands
    with only PATH and HOME from the job, so nothing activates a venv. Each
    run draws fresh hidden inputs (`--seed random`), as `grade` does: answers
    hard-coded for `make check`'s inputs do not pass, and the log names the
    seed, so the student can draw the same inputs with `check --seed N`.
    """
    return f".venv/bin/python -m checker check {exercise_id} --seed random"


@dataclass(frozen=True)
class Test:
    """One autograding test: one exercise."""

    exercise: Exercise

    @property
    def name(self) -> str:
        return f"{self.exercise.id} {self.exercise.title}" + (" (bonus)" if self.exercise.bonus else "")

    @property
    def step_id(self) -> str:
        # Step ids take letters, digits, '-' and '_'; the reporter reads <STEP ID upper-cased>_RESULTS.
        return "ex-" + self.exercise.id.replace(".", "-")

    @property
    def command(self) -> str:
        return check_command(self.exercise.id)

    @property
    def points(self) -> int:
        points = self.exercise.points
        if points != int(points):  # the command grader reads max-score as a whole number
            raise ValueError(
                f"GitHub Classroom counts whole points only, and exercise {self.exercise.id} is worth {points:g}"
            )
        return int(points)


class Conflict(Exception):
    """A file to write exists with other content: the caller decides (--force moves it aside)."""


def graded(words: list[str]) -> list[Exercise]:
    """The exercises that get a test: those `words` select, the bonus only when they name it."""
    optional = manifest.optional_bonus(words)
    return [exercise for exercise in manifest.select(words) if exercise.id not in optional]


def files(exercises: list[Exercise]) -> dict[str, str]:
    """Both files' text, by their path in the repository."""
    tests = [Test(exercise) for exercise in exercises]
    return {WORKFLOW_FILE: workflow(tests), AUTOGRADING_FILE: autograding_json(tests)}


def write_files(root: Path, exercises: list[Exercise], *, force: bool = False) -> list[tuple[Path, Path]]:
    """Write both files under `root`. A file that exists with other content is
    refused (Conflict, before anything is written) unless `force`; then it is
    moved aside first. Returns (file, backup) for each file moved aside."""
    wanted = {Path(root) / name: text for name, text in files(exercises).items()}
    differing = [path for path, text in wanted.items() if path.exists() and _read(path) != text]
    if differing and not force:
        names = ", ".join(str(path) for path in differing)
        raise Conflict(
            f"{names} already exist{'s' if len(differing) == 1 else ''} with other content: pass --force to move the old ones aside"
        )
    moved = [(path, kit.move_aside(path)) for path in differing]
    for path, text in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return moved


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def autograding_json(tests: list[Test]) -> str:
    entries = [
        {
            "name": test.name,
            "setup": SETUP_COMMAND,
            "run": test.command,
            "input": "",
            "output": "",  # no output to compare: the exit status decides
            "comparison": "included",
            "timeout": TIMEOUT_MINUTES,
            "points": test.points,
        }
        for test in tests
    ]
    return json.dumps({"tests": entries}, indent=2, ensure_ascii=False) + "\n"


def workflow(tests: list[Test]) -> str:
    """The workflow as YAML text. Every string is written as a JSON string,
    which YAML reads as a double-quoted scalar, so no name needs escaping rules of its own."""
    quote = json.dumps
    lines = [
        "# GitHub Classroom autograding for the backprop kit: one test per exercise.",
        "# Written by `python -m checker classroom`; regenerate it rather than editing it.",
        "name: Autograding Tests",
        "'on':",  # quoted: YAML 1.1 reads a bare on as true
        "- push",
        "- workflow_dispatch",
        "- repository_dispatch",  # how Classroom asks for a run again
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    # Not on the commits Classroom itself makes when it creates a student's repository.",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "    - name: Checkout code",
        "      uses: actions/checkout@v4",
        "    - name: Set up Python",
        "      uses: actions/setup-python@v5",
        "      with:",
        "        python-version: '3.12'",
    ]
    for test in tests:
        lines += [
            f"    - name: {quote(test.name)}",
            f"      id: {test.step_id}",
            f"      uses: {GRADER_ACTION}",
            "      with:",
            f"        test-name: {quote(test.name)}",
            f"        setup-command: {quote(SETUP_COMMAND)}",
            f"        command: {quote(test.command)}",
            f"        timeout: {TIMEOUT_MINUTES}",
            f"        max-score: {test.points}",
        ]
    lines += [
        "    - name: Autograding Reporter",
        f"      uses: {REPORTER_ACTION}",
        "      env:",
        *(
            f"        {test.step_id.upper()}_RESULTS: {quote('${{steps.' + test.step_id + '.outputs.result}}')}"
            for test in tests
        ),
        "      with:",
        f"        runners: {','.join(test.step_id for test in tests)}",
    ]
    return "\n".join(lines) + "\n"
