"""What every benchmark shares: the Result row, timers, and the repo's paths."""

from __future__ import annotations

import gc
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    within_noise: bool = False


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


@dataclass
class Comparison:
    """Rounds of two functions timed in turn: ours and a reference, round by round."""

    ours: list[Timing]
    theirs: list[Timing]

    @property
    def ratios(self) -> list[float]:
        """Our CPU time over theirs, one ratio per round: a busy moment of the
        machine falls on both sides of a round alike."""
        return [mine.cpu / other.cpu for mine, other in zip(self.ours, self.theirs)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def spread(self) -> str:
        """The lowest and highest of the rounds' ratios, e.g. "0.58-0.63x"."""
        return f"{min(self.ratios):.2f}-{max(self.ratios):.2f}x"

    def met(self, budget: float) -> bool:
        return self.ratio <= budget

    def within_noise(self, budget: float) -> bool:
        """Whether the budget lies between the best and the worst round, where
        jitter alone could tip the verdict either way."""
        return min(self.ratios) <= budget < max(self.ratios)

    def result(self, what: str, measured: str, reference: str, budget: float) -> Result:
        return Result(
            what,
            measured,
            reference,
            f"{self.ratio:.2f}x",
            f"<= {budget}x",
            self.met(budget),
            self.note(),
            self.within_noise(budget),
        )

    def note(self) -> str:
        ours, theirs = median_timing(self.ours), median_timing(self.theirs)
        return (
            f"CPU time, median of {len(self.ratios)} rounds in turn, ratio per round {self.spread()} "
            f"(noise: ours {relative_spread(self.ours):.0%}, reference {relative_spread(self.theirs):.0%}); "
            f"wall clock {ours.wall * 1e3:.0f} vs {theirs.wall * 1e3:.0f} ms ({ours.wall / theirs.wall:.2f}x)"
        )


def relative_spread(timings: list[Timing]) -> float:
    """(slowest - fastest) / median of the CPU times: how much one side jittered."""
    times = [t.cpu for t in timings]
    return (max(times) - min(times)) / statistics.median(times)


def interleaved(ours: Callable[[], object], theirs: Callable[[], object], rounds: int = 7) -> Comparison:
    """Time two functions in turn, `rounds` times each, in this process.

    Each runs once first, to warm up. Who goes first alternates from round to
    round, so that neither always inherits the other's garbage or cache.
    """
    ours(), theirs()
    comparison = Comparison([], [])
    for index in range(rounds):
        if index % 2 == 0:
            comparison.ours.append(timed(ours))
            comparison.theirs.append(timed(theirs))
        else:
            comparison.theirs.append(timed(theirs))
            comparison.ours.append(timed(ours))
    return comparison


def run_command(arguments: list[str], cwd: Path = REPO) -> float:
    """Wall time of a command; raises if it fails."""
    return timed_command(arguments, cwd).wall


def timed_command(arguments: list[str], cwd: Path = REPO) -> Timing:
    """Wall time of a command, and the CPU time it and every process it
    waited for used (user + system); raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(arguments, cwd=cwd, capture_output=True, env=quiet_environment())
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed ({completed.returncode}): {completed.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(seconds, cpu)


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
