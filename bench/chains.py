"""Long chains of scalar operations: the per-op overhead of the reference.

- 25,000 operations on a 0-d tensor (multiply and add in turn), forward and
  backward, against the same chain in PyTorch on the CPU, when PyTorch is
  installed (it is never a dependency of the kit);
- a 100,000-deep chain: backward must work (no recursion limit, no stack
  overflow) and take at most a second.
"""

from __future__ import annotations

import importlib.util
import statistics

import numpy as np

from solutions.core import Tensor

from .common import Result, skipped, timed

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


def torch_forward_backward() -> float:
    import torch

    x = torch.tensor(1.0, dtype=torch.float32, requires_grad=True)
    y = x
    for index in range(SCALAR_CHAIN_OPS):
        y = y * FACTOR if index % 2 == 0 else y + OFFSET
    y.backward()
    return float(x.grad)


def scalar_chain(repeats: int = 5) -> Result:
    what, budget = f"{SCALAR_CHAIN_OPS:,}-op scalar chain, forward + backward", "<= 0.65x"
    if importlib.util.find_spec("torch") is None:
        return skipped(what + " vs PyTorch", budget, "PyTorch not installed: skipped")
    import torch

    torch.set_num_threads(1)
    expected = expected_gradient(SCALAR_CHAIN_OPS)
    for function in (reference_forward_backward, torch_forward_backward):
        gradient = function()  # also the warm-up
        if not np.isclose(gradient, expected, rtol=1e-3):
            raise RuntimeError(f"{function.__name__} gave {gradient}, expected {expected}")
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(timed(reference_forward_backward))
        theirs.append(timed(torch_forward_backward))
    ours_seconds, torch_seconds = statistics.median(ours), statistics.median(theirs)
    ratio = ours_seconds / torch_seconds
    return Result(
        what, f"{ours_seconds * 1e3:.0f} ms", f"{torch_seconds * 1e3:.0f} ms PyTorch {torch.__version__}",
        f"{ratio:.2f}x", budget, ratio <= 0.65, f"median of {repeats}, in turn",
    )


def deep_chain() -> Result:
    x, y = reference_chain(DEEP_CHAIN_OPS)
    seconds = timed(y.backward)
    works = bool(np.isclose(float(x.grad.array), expected_gradient(DEEP_CHAIN_OPS), rtol=1e-2))
    del x, y  # freeing the graph must not overflow the stack either
    return Result(
        f"{DEEP_CHAIN_OPS:,}-deep chain, backward",
        f"{seconds:.3f} s", "-", f"{seconds:.3f} s", "works, <= 1 s", works and seconds <= 1.0,
        "" if works else "wrong gradient",
    )


def run() -> list[Result]:
    return [deep_chain(), scalar_chain()]
