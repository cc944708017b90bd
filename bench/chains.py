"""Long chains of scalar operations: the per-op overhead of the reference.

- 25,000 operations on a 0-d tensor (multiply and add in turn), forward and
  backward, against the same chain in PyTorch on the CPU, when PyTorch is
  installed (it is never a dependency of the kit), the two in turn in this
  process;
- a 100,000-deep chain: backward must work (no recursion limit, no stack
  overflow) and take at most a second.
"""

from __future__ import annotations

import gc
import importlib.util

import numpy as np
from solutions.core import Tensor

from .common import Result, interleaved, median_timing, skipped, timed

SCALAR_CHAIN_OPS = 25_000
DEEP_CHAIN_OPS = 100_000
FACTOR, OFFSET = 1.0001, 0.0001


def expected_gradient(ops: int) -> float:
    # Each multiply scales the gradient; the adds pass it through.
    return FACTOR ** ((ops + 1) // 2)


def reference_chain(ops: int) -> tuple[Tensor, Tensor]:
    x = Tensor(np.array(1.0, dtype=np.float32), requires_grad=True)
    y = x
    for index in range(ops):
        y = y * FACTOR if index % 2 == 0 else y + OFFSET
    return x, y


def reference_forward_backward() -> float:
    x, y = reference_chain(SCALAR_CHAIN_OPS)
    y.backward()
    return float(x.grad.array)


def scalar_chain(rounds: int = 9) -> Result:
    what, budget = f"{SCALAR_CHAIN_OPS:,}-op scalar chain, forward + backward", 0.65
    if importlib.util.find_spec("torch") is None:
        return skipped(what + " vs PyTorch", f"<= {budget}x", "PyTorch not installed: skipped")
    from . import torch_chain

    expected = expected_gradient(SCALAR_CHAIN_OPS)
    for gradient, who in ((reference_forward_backward(), "the reference"), (torch_chain.forward_backward(), "PyTorch")):
        if not np.isclose(gradient, expected, rtol=1e-3):
            raise RuntimeError(f"{who} gave dL/dx = {gradient}, expected {expected}")
    # Both in this process, so its collector sees PyTorch's import too. Frozen
    # (gc.freeze), the objects that exist now are never scanned again: PyTorch
    # and NumPy as imported, ~170,000 objects that would otherwise make each
    # full collection during our chain several times longer. Each chain's own
    # objects are collected as usual. (A student's process has NumPy's ~11,000
    # in view: see docs/performance.md for what that costs.)
    gc.freeze()
    try:
        comparison = interleaved(reference_forward_backward, torch_chain.forward_backward, rounds=rounds)
    finally:
        gc.unfreeze()
    ours, theirs = median_timing(comparison.ours), median_timing(comparison.theirs)
    return comparison.result(
        what,
        f"{ours.cpu * 1e3:.0f} ms",
        f"{theirs.cpu * 1e3:.0f} ms PyTorch {torch_chain.version()}",
        budget,
    )


def deep_chain() -> Result:
    x, y = reference_chain(DEEP_CHAIN_OPS)
    timing = timed(y.backward)
    works = bool(np.isclose(float(x.grad.array), expected_gradient(DEEP_CHAIN_OPS), rtol=1e-2))
    del x, y  # freeing the graph must not overflow the stack either
    return Result(
        f"{DEEP_CHAIN_OPS:,}-deep chain, backward",
        f"{timing.cpu:.3f} s",
        "-",
        f"{timing.cpu:.3f} s",
        "works, <= 1 s",
        works and timing.cpu <= 1.0,
        f"CPU time; wall clock {timing.wall:.3f} s" + ("" if works else "; WRONG GRADIENT"),
    )


def run() -> list[Result]:
    return [deep_chain()]


def run_against_pytorch() -> list[Result]:
    return [scalar_chain()]
