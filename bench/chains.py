"""Long chains of scalar operations: the per-op overhead of the reference.

- 25,000 operations on a 0-d tensor (multiply and add in turn), forward and
  backward, against the same chain in PyTorch on the CPU, when PyTorch is
  installed (it is never a dependency of the kit; it runs in a process of its
  own, see torch_chain.py);
- a 100,000-deep chain: backward must work (no recursion limit, no stack
  overflow) and take at most a second.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess

import numpy as np

from solutions.core import Tensor

from .common import PYTHON, REPO, Result, Timing, median_timing, skipped, timed, timed_call

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


class TorchChain:
    """The PyTorch side, run in a process of its own (see torch_chain.py)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [PYTHON, "-m", "bench.torch_chain"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.version = ""

    def __call__(self) -> tuple[float, Timing]:
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        self.version = answer["version"]
        return answer["gradient"], Timing(answer["wall"], answer["cpu"])

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def scalar_chain(repeats: int = 5) -> Result:
    what, budget = f"{SCALAR_CHAIN_OPS:,}-op scalar chain, forward + backward", "<= 0.65x"
    if importlib.util.find_spec("torch") is None:
        return skipped(what + " vs PyTorch", budget, "PyTorch not installed: skipped")
    expected = expected_gradient(SCALAR_CHAIN_OPS)
    torch_chain = TorchChain()
    try:
        ours, theirs = [], []
        for repeat in range(repeats + 1):  # the first of each is a warm-up
            our_gradient, our_timing = timed_call(reference_forward_backward)
            their_gradient, their_timing = torch_chain()
            for gradient, who in ((our_gradient, "the reference"), (their_gradient, "PyTorch")):
                if not np.isclose(gradient, expected, rtol=1e-3):
                    raise RuntimeError(f"{who} gave dL/dx = {gradient}, expected {expected}")
            if repeat > 0:
                ours.append(our_timing)
                theirs.append(their_timing)
    finally:
        torch_chain.close()
    ours_median, theirs_median = median_timing(ours), median_timing(theirs)
    ratio, wall_ratio = ours_median.cpu / theirs_median.cpu, ours_median.wall / theirs_median.wall
    return Result(
        what, f"{ours_median.cpu * 1e3:.0f} ms", f"{theirs_median.cpu * 1e3:.0f} ms PyTorch {torch_chain.version}",
        f"{ratio:.2f}x", budget, ratio <= 0.65,
        f"CPU time, median of {repeats}, in turn, each framework in its own process; "
        f"wall clock {ours_median.wall * 1e3:.0f} vs {theirs_median.wall * 1e3:.0f} ms ({wall_ratio:.2f}x)",
    )


def deep_chain() -> Result:
    x, y = reference_chain(DEEP_CHAIN_OPS)
    timing = timed(y.backward)
    works = bool(np.isclose(float(x.grad.array), expected_gradient(DEEP_CHAIN_OPS), rtol=1e-2))
    del x, y  # freeing the graph must not overflow the stack either
    return Result(
        f"{DEEP_CHAIN_OPS:,}-deep chain, backward",
        f"{timing.cpu:.3f} s", "-", f"{timing.cpu:.3f} s", "works, <= 1 s", works and timing.cpu <= 1.0,
        f"CPU time; wall clock {timing.wall:.3f} s" + ("" if works else "; WRONG GRADIENT"),
    )


def run() -> list[Result]:
    return [deep_chain(), scalar_chain()]
