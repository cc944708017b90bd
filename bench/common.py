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
from typing import Any, Callable

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


@dataclass
class Timing:
    """Seconds of one run: on the wall clock, and on this process's CPU.

    On a machine other work shares, the wall clock also counts the time this
    process waited for a core; its CPU time does not. For single-threaded
    work in this process the two agree on an idle machine.
    """

    wall: float
    cpu: float


def timed_call(function: Callable[[], Any]) -> tuple[Any, Timing]:
    """What function() returns, and how long it took."""
    # A collection left over from the previous run must not land in this one.
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


def timed(function: Callable[[], Any]) -> Timing:
    return timed_call(function)[1]


def median_timing(timings: list[Timing]) -> Timing:
    return Timing(statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings))


def interleaved(first: Callable[[], object], second: Callable[[], object], repeats: int = 5) -> tuple[Timing, Timing]:
    """Median timings of two functions run in turn, so that a busy moment of
    the machine falls on both alike. Each runs once first, to warm up."""
    first(), second()
    first_timings, second_timings = [], []
    for _ in range(repeats):
        first_timings.append(timed(first))
        second_timings.append(timed(second))
    return median_timing(first_timings), median_timing(second_timings)


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
