"""`python -m bench`: measure everything, print one table, exit 1 if a budget is missed."""

from __future__ import annotations

import os

# One BLAS thread on both sides of every comparison: on a shared 2-core
# machine, threaded BLAS makes timings swing by several times. Set before
# NumPy is imported (by the benchmark modules below).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import sys  # noqa: E402

from . import capstone, chains, feedback, mlp_step  # noqa: E402
from .common import Result, load_average  # noqa: E402

# The per-op measurements first, while this process holds little else for the
# garbage collector to scan; PyTorch last, as importing it brings ~150,000
# objects into this process (see chains.scalar_chain).
MEASUREMENTS = [chains.run, mlp_step.run, capstone.run, feedback.run, chains.run_against_pytorch]
COLUMNS = ["what", "measured", "reference", "ratio", "budget", "met?"]


def row(result: Result) -> list[str]:
    met = "skipped" if result.met is None else "yes" if result.met else "NO"
    if result.within_noise:
        met += " (within noise)"
    return [result.what, result.measured, result.reference, result.ratio, result.budget, met]


def table(results: list[Result]) -> str:
    rows = [COLUMNS, *(row(result) for result in results)]
    widths = [max(len(cells[column]) for cells in rows) for column in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip() for cells in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"- {result.what}: {result.note}" for result in results if result.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def main() -> int:
    print(f"backprop kit benchmarks (load average at start: {load_average()})", flush=True)
    results: list[Result] = []
    for measure in MEASUREMENTS:
        results.extend(measure())
    print(table(results))
    print(
        f"\nload average at the end: {load_average()}. CPU times are steady on a busy machine; "
        "wall-clock times there are not (see the notes)."
    )
    missed = [result.what for result in results if result.met is False]
    print(f"\n{'every budget met' if not missed else f'{len(missed)} budget(s) missed'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
