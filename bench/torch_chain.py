"""The scalar chain in PyTorch, in a process of its own.

    python -m bench.torch_chain

Runs the chain once per line read on standard input, and answers each with
a line of JSON: {"wall": seconds, "cpu": seconds, "gradient": dL/dx}. In a
process of its own, PyTorch's many objects do not weigh on the reference's
garbage collector, nor the other way round: each framework is timed as its
users run it.
"""

from __future__ import annotations

import json
import sys

import torch

from .chains import FACTOR, OFFSET, SCALAR_CHAIN_OPS
from .common import timed_call


def forward_backward() -> float:
    x = torch.tensor(1.0, dtype=torch.float32, requires_grad=True)
    y = x
    for index in range(SCALAR_CHAIN_OPS):
        y = y * FACTOR if index % 2 == 0 else y + OFFSET
    y.backward()
    return float(x.grad)


def main() -> None:
    torch.set_num_threads(1)
    for _ in sys.stdin:
        gradient, timing = timed_call(forward_backward)
        print(json.dumps({"wall": timing.wall, "cpu": timing.cpu, "gradient": gradient, "version": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
