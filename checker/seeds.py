"""Where the hidden tests' random inputs come from.

Every random input of a suite is drawn from `rng(number)`, where the number
names the input. Under `make check` that is all there is, so the inputs are
the same every run and the same code always gets the same message.

Grading adds a *grading seed*: `grade` and the Gradescope run draw a fresh,
secret one per run, and every input is then drawn from the pair (grading
seed, number). A submission that hard-codes answers for the inputs students
can see passes `make check` and fails the grade. The seed is recorded in the
grade's JSON; `--seed N` draws the same inputs again, so a grade can be
reproduced exactly.

The seed must be set before the suites are imported (their inputs are built
at import): `use()` records it, and `suites.load` imports the suites again
when it changed. The parent and the child both call `use()` with the same
seed, so both build the same inputs.
"""

from __future__ import annotations

import secrets
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# None: the fixed inputs of `make check`.
_grading_seed: int | None = None

# Largest seed drawn; any non-negative int is accepted.
_DRAWN_BITS = 63


def use(seed: int | None) -> None:
    """Draw the inputs of the suites imported from now on from this grading seed (None: the fixed inputs)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"a grading seed is a whole number from 0 up, not {seed!r}")
    global _grading_seed
    _grading_seed = seed


def current() -> int | None:
    return _grading_seed


def draw() -> int:
    """A fresh secret grading seed, from the operating system's randomness."""
    return secrets.randbits(_DRAWN_BITS)


def rng(number: int) -> np.random.Generator:
    """The generator of the input named `number`: fixed under `make check`, secret under grading."""
    # Imported here: the checker's parent imports this module before NumPy
    # (it starts its child first; see api.py).
    import numpy as np

    if _grading_seed is None:
        return np.random.default_rng(number)
    return np.random.default_rng([_grading_seed, number])


def case_seed(case_id: str) -> int:
    """The seed of NumPy's and Python's global generators before a case's probe runs.

    The same for a case however many cases ran before it, and, like the
    inputs, different under each grading seed.
    """
    text = case_id if _grading_seed is None else f"{_grading_seed}:{case_id}"
    return zlib.crc32(text.encode())
