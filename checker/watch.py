"""`make watch` (`python -m checker watch [EXERCISE ...]`): check again on every save, and move on.

It polls the modification times of the exercise folder's .py files (every
half second: polling works on every system and every editor, including
those that save by replacing the file). On a change it runs `python -m
checker check` as a fresh process, so each run sees the student's latest
code and nothing is left over from the last one.

Like rustlings, it follows one exercise at a time (of EXERCISE, when given;
else of the course): the one the report would show first, the first started
exercise that does not pass, else the first not started
(results.first_to_fix). When that one passes, it says so and moves on. Each screen shows
only the exercise being followed, then one line of course progress, so that
it fits a terminal of normal height.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import KIT_ROOT, manifest
from .outcomes import Status
from .results import first_to_fix, statuses_of

POLL_SECONDS = 0.5

Fingerprint = dict[str, tuple[int, int]]


def fingerprint(folder: Path) -> Fingerprint:
    """Each .py file's modification time and size: a change to either is a save."""
    prints: Fingerprint = {}
    for path in sorted(Path(folder).glob("*.py")):
        try:
            status = path.stat()
        except OSError:  # removed between the listing and the stat
            continue
        prints[path.name] = (status.st_mtime_ns, status.st_size)
    return prints


@dataclass
class CheckRun:
    """One `check` run: what it printed, and each checked exercise's status."""

    output: str
    statuses: dict[str, Status] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.statuses = {exercise_id: Status(status) for exercise_id, status in self.statuses.items()}


@dataclass
class Watcher:
    impl_dir: Path
    exercises: list[str]  # what the student asked for: where to start; empty means the course
    interval: float = POLL_SECONDS
    max_runs: int | None = None  # for tests: stop after this many checks
    clear_screen: bool = True
    say: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.runs = 0
        self.focus: str | None = None  # the exercise being followed
        self.course: dict[str, Status] = {}  # the last known status of every exercise

    def run(self) -> int:
        try:
            self._loop()
        except KeyboardInterrupt:
            self.say("\nStopped watching.")
        return 0

    def _loop(self) -> None:
        last = fingerprint(self.impl_dir)
        self._check()
        while not self._done():
            time.sleep(self.interval)
            now = fingerprint(self.impl_dir)
            if now != last:
                # Taken before the check: a save made during it is seen at the next poll.
                last = now
                self._check()

    def _done(self) -> bool:
        return self.max_runs is not None and self.runs >= self.max_runs

    def _check(self) -> None:
        self.runs += 1
        news: list[str] = []
        if self.focus is None:
            self._survey()
            self.focus = self._next_focus()
        shown = None
        while self.focus is not None:
            shown = run_check(self.impl_dir, [self.focus])
            status = shown.statuses.get(self.focus, Status.ERROR)
            self.course[self.focus] = status
            if status is not Status.PASSED:
                break
            news.append(f"✓ {manifest.get(self.focus).label} passes.")
            self._survey()  # the others may have changed too: one save can finish several
            self.focus = self._next_focus()
            if self.focus is not None:
                news.append(f"Next: {manifest.get(self.focus).label} (read {manifest.get(self.focus).lesson}).")
        self._clear()
        stamp = time.strftime("%H:%M:%S")
        self.say(
            f"[{stamp}] run {self.runs}: " + (f"following {self.focus}" if self.focus else "nothing left to follow")
        )
        for line in news:
            self.say(line)
        if self.focus is None:
            self.say(self._finished())
        elif shown is not None:
            self.say(shown.output.rstrip("\n"))
        self.say(course_line(self.course))
        self.say(f"Watching {self.impl_dir}/: save a file to check again (Ctrl-C to stop).")

    def _survey(self) -> None:
        """Every exercise's status, from a full check whose report is not shown."""
        self.course.update(run_check(self.impl_dir, []).statuses)

    def _next_focus(self) -> str | None:
        """The first exercise not passing: among those asked for, else in the course (main before bonus)."""
        asked = [exercise.id for exercise in manifest.select(self.exercises)] if self.exercises else []
        course = manifest.released()
        main = [exercise.id for exercise in course if not exercise.bonus]
        bonus = [exercise.id for exercise in course if exercise.bonus]
        for candidates in (asked, main, bonus):
            focus = first_to_fix(
                (exercise_id, self.course.get(exercise_id, Status.NOT_STARTED)) for exercise_id in candidates
            )
            if focus is not None:
                return focus
        return None

    def _finished(self) -> str:
        has_bonus = any(exercise.bonus for exercise in manifest.released())
        return "Every exercise passes" + (", the bonus included" if has_bonus else "") + ". Well done!"

    def _clear(self) -> None:
        if self.clear_screen and sys.stdout.isatty():
            sys.stdout.write("\033[2J\033[H")
            sys.stdout.flush()


def course_line(course: dict[str, Status]) -> str:
    """One line of course progress: 'Course: 5/28 main exercises pass, score 12/100; bonus 0/10'."""
    handed_out = manifest.released()
    main = [exercise for exercise in handed_out if not exercise.bonus]
    bonus = [exercise for exercise in handed_out if exercise.bonus]

    def points(exercises: list[manifest.Exercise]) -> float:
        return sum(exercise.points for exercise in exercises if course.get(exercise.id) is Status.PASSED)

    passed = sum(1 for exercise in main if course.get(exercise.id) is Status.PASSED)
    line = f"Course: {passed}/{len(main)} main exercises pass, score {points(main):g}/{sum(e.points for e in main):g}"
    # A release of part of the course may hand out no bonus at all.
    return line + (f"; bonus {points(bonus):g}/{sum(e.points for e in bonus):g}" if bonus else "")


def run_check(impl_dir: Path, exercises: list[str]) -> CheckRun:
    """Run `python -m checker check` in a fresh process and collect what it printed.

    The output keeps its colours when the watch runs in a terminal.
    """
    environment = dict(os.environ)
    if sys.stdout.isatty() and "NO_COLOR" not in environment:
        environment["FORCE_COLOR"] = "1"
        environment["COLUMNS"] = str(shutil.get_terminal_size().columns)
    with tempfile.TemporaryDirectory(prefix="backprop-watch-") as tmp:
        json_path = Path(tmp) / "result.json"
        command = [
            sys.executable,
            "-m",
            "checker",
            "check",
            *exercises,
            "--impl",
            str(impl_dir),
            "--json",
            str(json_path),
        ]
        # The check writes UTF-8 (cli.py), whatever this system's default encoding.
        completed = subprocess.run(
            command,
            cwd=KIT_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            env=environment,
        )
        try:
            result = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {}
    return CheckRun(completed.stdout + completed.stderr, statuses_of(result))
