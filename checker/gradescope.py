"""Gradescope: build the autograder bundle, and grade one submission inside it.

`python -m checker gradescope --out FILE.zip` writes a zip with, at its root,
`setup.sh` (run once when Gradescope builds its image), `run_autograder` (run
once per submission), the checker, the given code and stubs of `exercises/`,
and the data set. The reference solutions are never put in the bundle.

On Gradescope the bundle is unpacked into `$AUTOGRADER_ROOT/source`
(`/autograder/source`); the student's files are in
`$AUTOGRADER_ROOT/submission` and the verdict goes to
`$AUTOGRADER_ROOT/results/results.json`:

    {"score": 47.0, "execution_time": 6, "output": "...", "output_format": "text",
     "stdout_visibility": "hidden", "visibility": "visible",
     "tests": [{"name": "1.2 unbroadcast", "number": "1.2", "score": 4.0, "max_score": 4.0,
                "status": "passed", "output": "...", "visibility": "visible"}, ...]}

Scoring: `score` is the main score plus the bonus score. Set the assignment's
points to the main maximum (100) on Gradescope: bonus points then count as
extra credit. Bonus tests are named "(bonus)".
"""

from __future__ import annotations

import stat
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any

from . import KIT_ROOT, __version__, kit, manifest, submissions
from .outcomes import Status
from .results import CheckResult, write_json_atomically

# What Gradescope's image needs besides Python: pyproject.toml's dependencies.
REQUIREMENTS = ("numpy>=1.26", "pytest>=7.4", "pytest-timeout>=2.2", "rich>=13.0")

# At the bundle's root: the exercises it grades, one selection word a line (empty: all).
SELECTION_FILE = "SELECTION"
# At the bundle's root when the instructor built it with --allow-partial-sandbox:
# it then grades even where the kernel sandbox is not complete.
ALLOW_PARTIAL_SANDBOX_FILE = "ALLOW_PARTIAL_SANDBOX"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip > /dev/null
# A venv of its own: recent Ubuntu images refuse pip installs into the system Python.
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --disable-pip-version-check -r /autograder/source/requirements.txt
/autograder/venv/bin/python -c "import numpy, pytest, pytest_timeout, rich; print('backprop kit autograder ready, numpy', numpy.__version__)"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission. Also works anywhere with
# AUTOGRADER_ROOT set to a folder holding submission/ (and, optionally, source/).
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ -d "$HERE/checker" ]; then KIT="$HERE"; else KIT="$ROOT/source"; fi
if [ -n "${AUTOGRADER_PYTHON:-}" ]; then PYTHON="$AUTOGRADER_PYTHON"
elif [ -x "$ROOT/venv/bin/python" ]; then PYTHON="$ROOT/venv/bin/python"
else PYTHON="python3"; fi
mkdir -p "$ROOT/results"
cd "$KIT"
exec "$PYTHON" -c 'import sys; from checker.gradescope import autograde; sys.exit(autograde(sys.argv[1], sys.argv[2]))' \\
    "$ROOT/submission" "$ROOT/results/results.json"
"""


# --- the bundle -------------------------------------------------------------------


def build_bundle(out: Path, words: list[str] | tuple[str, ...] = (), allow_partial_sandbox: bool = False) -> Path:
    """Write the autograder zip to `out` and return its path.

    `words` selects the exercises it grades (ids, parts, function names, as
    for `checker check`); none means all. One bundle per part lets a course
    run one Gradescope assignment per part. Without `allow_partial_sandbox`
    the bundle refuses to grade where the kernel sandbox is not complete.
    """
    manifest.select(list(words))  # an unknown word fails now, not on Gradescope
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            _add_text(bundle, "setup.sh", SETUP_SH, executable=True)
            _add_text(bundle, "run_autograder", RUN_AUTOGRADER, executable=True)
            _add_text(bundle, "requirements.txt", "".join(f"{requirement}\n" for requirement in REQUIREMENTS))
            _add_text(bundle, "VERSION", f"backprop kit checker {__version__}\n")
            _add_text(bundle, SELECTION_FILE, "".join(f"{word}\n" for word in words))
            if allow_partial_sandbox:
                _add_text(bundle, ALLOW_PARTIAL_SANDBOX_FILE, "grade even where the kernel sandbox is not complete\n")
            for name in bundled_files():
                _add_file(bundle, name)
        temporary.replace(out)
    finally:
        if temporary.exists():
            temporary.unlink()
    return out


def bundled_files() -> list[str]:
    """The kit's files that go in the bundle, relative to the kit's root: what
    every student copy holds (kit.student_files), and pyproject.toml."""
    return ["pyproject.toml", *kit.student_files()]


def _add_text(bundle: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, text)


def _add_file(bundle: zipfile.ZipFile, name: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, (KIT_ROOT / name).read_bytes())


# --- inside Gradescope ------------------------------------------------------------


def autograde(submission_dir: str, results_path: str) -> int:
    """Grade the files in `submission_dir`; write results.json. Always writes it; returns 0, or 2 when it refused to grade for want of the full sandbox."""
    started = time.monotonic()
    try:
        from . import api, runner, sandbox, seeds

        runner.refuse_inspection()
        confinement = runner.probe_sandbox()
        if not confinement.full and not (KIT_ROOT / ALLOW_PARTIAL_SANDBOX_FILE).is_file():
            reason = (
                f"it refuses to run students' code without the full sandbox: {sandbox.summary(confinement)} "
                "Rebuild the bundle with --allow-partial-sandbox to grade anyway."
            )
            results = failure_results(reason, time.monotonic() - started)
            results["extra_data"] = {"sandbox": confinement.to_json(), "seed": None}
            write_json_atomically(Path(results_path), results)
            print(results["output"])
            return 2
        with tempfile.TemporaryDirectory(prefix="backprop-gradescope-") as tmp:
            staged = submissions.stage_folder(Path(submission_dir), Path(tmp))
            exercises = selected_exercises()
            # Fresh secret inputs for every submission: answers hard-coded
            # for the inputs students can see do not pass here.
            result = api.run_check(staged.folder, exercises, seed=seeds.draw())
            result.impl = "your submission"
            graded_modules = {exercise.module for exercise in exercises}
            missing = [module for module in staged.missing if module in graded_modules]
            results = to_gradescope(result, time.monotonic() - started, missing)
    except Exception as error:  # still a results.json: Gradescope shows nothing otherwise
        results = failure_results(f"{type(error).__name__}: {error}", time.monotonic() - started)
        traceback.print_exc()
    write_json_atomically(Path(results_path), results)
    print(results["output"])
    return 0


def selected_exercises() -> list[manifest.Exercise]:
    path = KIT_ROOT / SELECTION_FILE
    words = path.read_text().split() if path.is_file() else []
    return manifest.select(words)


def to_gradescope(result: CheckResult, seconds: float, missing: list[str] = ()) -> dict[str, Any]:
    """A check result in Gradescope's results.json format: one test per exercise."""
    tests = []
    for exercise_result in result.exercises:
        exercise = exercise_result.exercise
        name = f"{exercise.id} {exercise.title}" + (" (bonus)" if exercise.bonus else "")
        tests.append(
            {
                "name": name,
                "number": exercise.id,
                "score": exercise_result.score,
                "max_score": float(exercise.points),
                "status": "passed" if exercise_result.status is Status.PASSED else "failed",
                "output": _test_output(exercise_result),
                "visibility": "visible",
            }
        )
    return {
        "score": result.score + result.bonus_score,
        "execution_time": int(round(seconds)),
        "output": summary_text(result, missing),
        "output_format": "text",
        "stdout_visibility": "hidden",
        "visibility": "visible",
        "extra_data": {"sandbox": result.sandbox, "seed": result.seed},
        "tests": tests,
    }


def _test_output(exercise_result: Any) -> str:
    from .report import STATUS_WORDS

    lines = [f"Status: {STATUS_WORDS[exercise_result.status]}."]
    if exercise_result.message:
        lines.append(exercise_result.message)
    failing = [test for test in exercise_result.tests if test.status is not Status.PASSED]
    if len(failing) > 1:
        lines.append(f"{len(failing)} of {len(exercise_result.tests)} tests of this exercise do not pass:")
        lines.extend(f"- {test.name}: {test.message}" for test in failing[:10])
    return "\n".join(lines)


def summary_text(result: CheckResult, missing: list[str] = ()) -> str:
    """The plain-text report (the same table students see with `make check`)."""
    from .report import plain_text, render

    text = f"Main score {result.score:g}/{result.max_score:g}"
    text += f", bonus {result.bonus_score:g}/{result.bonus_max_score:g}.\n" if result.bonus_max_score else ".\n"
    if missing:
        text += f"Not in your submission (graded as not started): {', '.join(name + '.py' for name in missing)}.\n"
    return text + "\n" + plain_text(render(result), width=100)


def failure_results(reason: str, seconds: float) -> dict[str, Any]:
    """results.json for when the autograder itself failed: zero, and why, for every exercise."""
    return {
        "score": 0.0,
        "execution_time": int(round(seconds)),
        "output": f"The autograder could not grade this submission: {reason}\nPlease tell your instructor.",
        "output_format": "text",
        "stdout_visibility": "hidden",
        "visibility": "visible",
        "extra_data": {"sandbox": None, "seed": None},
        "tests": [
            {
                "name": f"{exercise.id} {exercise.title}" + (" (bonus)" if exercise.bonus else ""),
                "number": exercise.id,
                "score": 0.0,
                "max_score": float(exercise.points),
                "status": "failed",
                "output": f"not graded: {reason}",
                "visibility": "visible",
            }
            for exercise in _exercises_or_all()
        ],
    }


def _exercises_or_all() -> list[manifest.Exercise]:
    try:
        return selected_exercises()
    except Exception:
        return list(manifest.EXERCISES)


if __name__ == "__main__":  # pragma: no cover - a convenience for instructors
    sys.exit(autograde(sys.argv[1], sys.argv[2]))
