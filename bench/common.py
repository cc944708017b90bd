"""What every benchmark shares: the Result row, timers, and the repo's paths."""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass
class Result:
    """One row of the table: a measurement next to its budget.

    measured and reference are display strings; ratio is what the budget
    bounds (a ratio, or the measurement itself for absolute budgets); met is
    None when the measurement was skipped.
    """

    what: str
    measured: str
    reference: str
    ratio: str
    budget: str
    met: bool | None
    note: str = ""


def skipped(what: str, budget: str, why: str) -> Result:
    return Result(what, "-", "-", "-", budget, None, why)


def median_seconds(function: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """The median wall time of `function()` over `repeats` runs, after `warmup` runs."""
    for _ in range(warmup):
        function()
    return statistics.median(timed(function) for _ in range(repeats))


def timed(function: Callable[[], object]) -> float:
    # A collection left over from the previous run must not land in this one.
    gc.collect()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def interleaved_medians(first: Callable[[], object], second: Callable[[], object], repeats: int = 5) -> tuple[float, float]:
    """Median times of two functions run in turn, so that a busy moment of
    the machine falls on both alike."""
    first(), second()  # warm-up
    first_times, second_times = [], []
    for _ in range(repeats):
        first_times.append(timed(first))
        second_times.append(timed(second))
    return statistics.median(first_times), statistics.median(second_times)


def run_command(arguments: list[str], cwd: Path = REPO) -> float:
    """Wall time of a command; raises if it fails."""
    started = time.perf_counter()
    completed = subprocess.run(arguments, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=quiet_environment())
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed ({completed.returncode}): {completed.stderr.decode()[-500:]}")
    return seconds


def quiet_environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment["NO_COLOR"] = "1"
    return environment


def load_average() -> str:
    try:
        one_minute = os.getloadavg()[0]
    except OSError:
        return "unknown"
    return f"{one_minute:.1f} on {os.cpu_count()} CPUs"
