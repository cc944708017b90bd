"""Batch grading: check every submission in a folder, in parallel, each isolated.

    python -m checker grade SUBMISSIONS [EXERCISE ...] --out DIR [--jobs N]

writes DIR/grades.csv (columns `submission`, `score`, `max_score`, then one
per exercise id, holding the points earned) and DIR/<submission>.json (the
check JSON (results.py), with `impl` set to the submission's name).

How a submission is kept from touching another:

1. Every submission is staged (see submissions.py) before any student code
   runs: from then on the originals are never read again, and each worker
   sees only its own private copy.
2. Each submission is checked by a worker process of its own
   (grade_worker.py), which runs the student's code in a further child under
   the runner's time and memory caps, and hands its JSON back over a pipe.
3. A worker that died, printed no valid JSON, overran its time, or saw a
   test process crash (which another submission's code could have caused)
   is graded again at the end, alone, when no other submission's code is
   running, and that grade stands; a worker that fails again gives an
   honest "error" grade for that submission only.
4. The outputs are written last, atomically, after every worker is gone.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import KIT_ROOT, manifest, runner, submissions
from .manifest import Exercise
from .outcomes import Status
from .results import statuses_of, write_json_atomically

# A worker gets the runner's whole-run limit, its start-up and a margin.
WORKER_SECONDS = runner.Limits().run_seconds + runner.Limits().startup_seconds + 30.0
MAX_WORKER_OUTPUT = 16 * 1024**2  # bytes of JSON read from one worker


@dataclass
class Grade:
    """One submission's grade: the check JSON, and how it was obtained."""

    name: str
    result: dict[str, Any]
    seconds: float = 0.0
    attempts: int = 1
    missing: list[str] = field(default_factory=list)  # part files filled in from the stubs
    problem: str = ""  # why the checker could not grade it normally, if it could not

    @property
    def score(self) -> float:
        return float(self.result.get("score", 0.0))

    @property
    def max_score(self) -> float:
        return float(self.result.get("max_score", 0.0))

    def exercise_scores(self) -> dict[str, float]:
        return {entry["id"]: float(entry["score"]) for entry in self.result.get("exercises", [])}

    def statuses(self) -> dict[str, Status]:
        return statuses_of(self.result)


class WorkerFailed(Exception):
    """A worker did not hand back a valid check JSON."""


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def grade_all(
    submissions_dir: Path,
    out_dir: Path,
    exercises: list[Exercise],
    jobs: int | None = None,
    words: list[str] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Grade], None] | None = None,
    seed: int | None = None,
) -> list[Grade]:
    """Grade every submission in `submissions_dir`; write the CSV and the JSONs to `out_dir`.

    `words` is the exercise selection as typed (ids, parts, names), passed on
    to the workers; `exercises` is what it selects. The callbacks feed the
    progress bar: `on_start(total)` once, `on_done(grade)` per submission.
    `seed` is the grading seed every submission's hidden inputs are drawn
    from (seeds.py); None gives the fixed inputs of `make check`.
    """
    found = submissions.discover(Path(submissions_dir))
    jobs = max(1, jobs or default_jobs())
    if on_start is not None:
        on_start(len(found))
    grades: dict[str, Grade] = {}
    retry: list[tuple[submissions.Submission, Path, submissions.Staged]] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="backprop-grade-") as tmp:
        staged = _stage_all(found, Path(tmp))

        def grade_one(submission: submissions.Submission) -> None:
            stage = staged[submission.name]
            if isinstance(stage, str):
                grade = _error_grade(submission.name, exercises, stage, seed)
            else:
                try:
                    grade = _run_worker(submission.name, stage, words or [], exercises, seed, alone=False)
                except WorkerFailed:
                    with lock:
                        retry.append((submission, Path(tmp), stage))
                    return
            with lock:
                grades[submission.name] = grade
            if on_done is not None:
                on_done(grade)

        runner.become_subreaper()  # orphans of a killed worker come to us, to be swept
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(grade_one, found))
        runner.sweep_orphans()

        # Alone now: nothing another submission runs can disturb these.
        for submission, _, stage in retry:
            try:
                grade = _run_worker(submission.name, stage, words or [], exercises, seed, alone=True)
                grade.attempts = 2
            except WorkerFailed as failure:
                grade = _error_grade(
                    submission.name,
                    exercises,
                    f"the checker's process for this submission failed twice ({failure})",
                    seed,
                )
                grade.missing, grade.attempts = stage.missing, 2
            grades[submission.name] = grade
            runner.sweep_orphans()
            if on_done is not None:
                on_done(grade)

    ordered = [grades[submission.name] for submission in found]
    write_outputs(Path(out_dir), ordered, exercises)
    return ordered


def _stage_all(found: list[submissions.Submission], tmp: Path) -> dict[str, submissions.Staged | str]:
    """Stage every submission; a submission that cannot be staged maps to the reason."""
    staged: dict[str, submissions.Staged | str] = {}
    for index, submission in enumerate(found):
        workdir = Path(tempfile.mkdtemp(prefix=f"{index:05d}-", dir=tmp))
        try:
            staged[submission.name] = submissions.stage(submission, workdir)
        except (submissions.BadSubmission, OSError) as error:
            staged[submission.name] = f"the submission could not be read: {error}"
    return staged


def _run_worker(
    name: str, stage: submissions.Staged, words: list[str], exercises: list[Exercise], seed: int | None, alone: bool
) -> Grade:
    """Check one staged submission in its own worker process.

    Raises WorkerFailed when the worker did not hand back a result, or, unless
    it ran `alone`, when a test process of it crashed: another submission
    running at the same time may have killed it.
    """
    started = time.monotonic()
    command = [sys.executable, "-m", "checker.grade_worker", str(stage.folder), *words]
    if seed is not None:
        command += ["--seed", str(seed)]
    worker = runner.start_in_own_group(
        command, cwd=KIT_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        output, _ = worker.communicate(timeout=WORKER_SECONDS)
    except subprocess.TimeoutExpired:
        runner.end_group(worker)
        raise WorkerFailed(f"it took longer than {WORKER_SECONDS:g} s") from None
    finally:
        runner.end_group(worker)
    if worker.returncode != 0:
        raise WorkerFailed(_exit_text(worker.returncode))
    result, crashed = _valid_result(output[:MAX_WORKER_OUTPUT], exercises)
    if crashed and not alone:
        raise WorkerFailed("a test process crashed")
    result["impl"] = name
    return Grade(name, result, time.monotonic() - started, missing=list(stage.missing))


def _valid_result(output: bytes, exercises: list[Exercise]) -> tuple[dict[str, Any], bool]:
    """The worker's check result, if it is one for exactly these exercises, and whether a test process crashed."""
    try:
        message = json.loads(output.decode("utf-8"))
        result, crashed = message["result"], bool(message["crashed"])
        ids = [entry["id"] for entry in result["exercises"]]
        float(result["score"]), float(result["max_score"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise WorkerFailed("its result was missing or unreadable") from None
    if ids != [exercise.id for exercise in exercises]:
        raise WorkerFailed("its result did not cover the selected exercises")
    return result, crashed


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _error_grade(name: str, exercises: list[Exercise], reason: str, seed: int | None) -> Grade:
    from .api import failed_to_run

    result = failed_to_run(Path(name), exercises, reason, seed).to_json()
    result["impl"] = name
    return Grade(name, result, problem=reason)


# --- outputs ----------------------------------------------------------------------


def csv_text(grades: list[Grade], exercises: list[Exercise]) -> str:
    """grades.csv: submission, score, max_score, then the points earned per exercise id."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", *[exercise.id for exercise in exercises]])
    for grade in grades:
        earned = grade.exercise_scores()
        writer.writerow(
            [
                grade.name,
                _number(grade.score),
                _number(grade.max_score),
                *[_number(earned.get(exercise.id, 0.0)) for exercise in exercises],
            ]
        )
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{value:g}"


def write_outputs(out_dir: Path, grades: list[Grade], exercises: list[Exercise]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for grade in grades:
        write_json_atomically(out_dir / f"{grade.name}.json", grade.result)
    handle, temporary = tempfile.mkstemp(dir=out_dir, prefix=".grades.csv.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
        stream.write(csv_text(grades, exercises))
    os.replace(temporary, out_dir / "grades.csv")


# --- the summary ------------------------------------------------------------------


def score_distribution(grades: list[Grade], buckets: int = 10) -> list[tuple[str, int]]:
    """How many submissions scored in each tenth of the maximum: [("0-10%", n), ..., ("100%", n)]."""
    counts = [0] * (buckets + 1)
    for grade in grades:
        fraction = grade.score / grade.max_score if grade.max_score else 0.0
        counts[buckets if fraction >= 1.0 else min(buckets - 1, int(fraction * buckets))] += 1
    step = 100 // buckets
    labels = [f"{index * step}-{(index + 1) * step}%" for index in range(buckets)] + ["100%"]
    return list(zip(labels, counts))


def most_failed(
    grades: list[Grade], exercises: list[Exercise], limit: int = 5
) -> list[tuple[Exercise, dict[Status, int]]]:
    """The exercises most often not passed, with how many of each status, worst first.

    "not started" counts apart: an exercise nobody attempted is not a hard one.
    """
    table = []
    for exercise in exercises:
        counts: dict[Status, int] = {}
        for grade in grades:
            status = grade.statuses().get(exercise.id, Status.ERROR)
            counts[status] = counts.get(status, 0) + 1
        attempted_failures = sum(count for status, count in counts.items() if status.needs_work)
        if attempted_failures:
            table.append((exercise, counts, attempted_failures))
    table.sort(key=lambda row: (-row[2], manifest.EXERCISES.index(row[0])))
    return [(exercise, counts) for exercise, counts, _ in table[:limit]]
