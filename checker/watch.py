"""`python -m checker watch [EXERCISE ...]`: check again on every save.

It polls the modification times of the exercise folder's .py files (every
half second: polling works on every system and every editor, including
those that save by replacing the file). On a change it clears the screen and
runs `python -m checker check` as a fresh process, so each run sees the
student's latest code and nothing is left over from the last one.

Without EXERCISE it follows the course: it checks the first exercise that
does not pass yet, and when that one passes, looks for the next.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

KIT_ROOT = Path(__file__).resolve().parent.parent
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
class Watcher:
    impl_dir: Path
    exercises: list[str]  # what the student asked for; empty means "the first not passing"
    interval: float = POLL_SECONDS
    max_runs: int | None = None  # for tests: stop after this many checks
    clear_screen: bool = True
    say: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.runs = 0
        self.focus: str | None = None  # the exercise being followed, without EXERCISE

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
        if self.clear_screen and sys.stdout.isatty():
            sys.stdout.write("\033[2J\033[H")
            sys.stdout.flush()
        if self.exercises:
            self._announce(" ".join(self.exercises))
            run_check(self.impl_dir, self.exercises)
        else:
            self._follow_the_course()
        self.say(f"\nWatching {self.impl_dir}/ for changes: save a file to check again (Ctrl-C to stop).")

    def _follow_the_course(self) -> None:
        if self.focus is not None:
            self._announce(self.focus)
            status, _ = run_check(self.impl_dir, [self.focus])
            if status != "passed":
                return
            self.say(f"\n{self.focus} passes. Looking for the next exercise...\n")
        self._announce("everything")
        _, next_focus = run_check(self.impl_dir, [])
        self.focus = next_focus

    def _announce(self, what: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.say(f"[{stamp}] checking {what} (run {self.runs})")


def run_check(impl_dir: Path, exercises: list[str]) -> tuple[str, str | None]:
    """Run `python -m checker check` in a fresh process; its output goes straight to the terminal.

    Returns the status of the first selected exercise and the id of the
    first exercise that still needs work (None when all pass).
    """
    with tempfile.TemporaryDirectory(prefix="backprop-watch-") as tmp:
        json_path = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "checker", "check", *exercises, "--impl", str(impl_dir), "--json", str(json_path)]
        subprocess.run(command, cwd=KIT_ROOT, stdin=subprocess.DEVNULL)
        try:
            result = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "error", None
    exercises_json = result.get("exercises") or []
    first_status = exercises_json[0].get("status", "error") if exercises_json else "error"
    return first_status, first_needing_work(exercises_json)


def first_needing_work(exercises: list[dict]) -> str | None:
    """Like the report's focus: the first started but failing exercise, else the first not started."""
    for wanted in (("failed", "error", "timeout"), ("not_started",)):
        for exercise in exercises:
            if exercise.get("status") in wanted:
                return exercise.get("id")
    return None
