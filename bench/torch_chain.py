"""The scalar chain in PyTorch: the reference that chains.py times ours against.

Imported only when PyTorch is installed; it is never a dependency of the kit.
"""

from __future__ import annotations

import torch

from .chains import FACTOR, OFFSET, SCALAR_CHAIN_OPS

# One thread, like NumPy's BLAS in the benchmarks (see __main__.py).
torch.set_num_threads(1)


def forward_backward() -> float:
    x = torch.tensor(1.0, dtype=torch.float32, requires_grad=True)
    y = x
    for index in range(SCALAR_CHAIN_OPS):
        y = y * FACTOR if index % 2 == 0 else y + OFFSET
    y.backward()
    return float(x.grad)


def version() -> str:
    return torch.__version__
