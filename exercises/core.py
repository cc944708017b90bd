"""Given code: the Tensor, its Recipe, and the switch for gradient tracking.

You do not need to change this file. Read it once: every exercise builds on it.

- A `Tensor` wraps a NumPy array. Floating-point data is stored as float32.
- A Tensor made by an operation remembers how it was made in a `Recipe`,
  so that backprop can walk from the output back to the inputs.
- `grad_tracking_enabled` is the global switch that `NoGrad` (Part 4) turns
  off. Read it as `core.grad_tracking_enabled` at call time (after
  `from . import core`): a `from .core import grad_tracking_enabled` would copy
  its value once, at import, and never see it change.

Tensor's operators (`+`, `*`, `@`, `.sum()`, `.backward()`, ...) call the
functions of `functional.py` and `part2_autograd.py`. They import those files
on first use, so this file imports on its own and an unfinished later part
never stops an earlier one from working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

Arr = np.ndarray
_FLOAT64 = np.dtype(np.float64)

grad_tracking_enabled = True


# A NamedTuple: a recipe is a record of the past, and a tuple cannot change
# (`recipe.func = ...` raises AttributeError). It is also the cheapest
# immutable record to make, and one is made per operation: about half the
# cost of a frozen dataclass, which sets each field through
# object.__setattr__ (bench/ measures the scalar chain).
class Recipe(NamedTuple):
    """How a Tensor was computed. Made once per operation, then only read.

    func:    the raw NumPy function that was called, e.g. `np.log`.
    args:    the positional arguments it was called with, unboxed: a Tensor
             argument appears as its array (the very same object), anything
             else (a Python number, a shape, an axis) as it was given.
    kwargs:  the keyword arguments it was called with.
    parents: maps the position of each Tensor argument that backprop must
             reach to that Tensor, e.g. {0: x} for `log(x)`.
    """

    func: Callable
    args: tuple
    kwargs: dict[str, Any]
    parents: dict[int, Tensor]


_functional_module = None


def _functional():
    # Imported on first use, not at the top: functional.py imports the
    # exercise files, and this file must stay importable without them.
    # Kept once imported: every operator calls this, and an import
    # statement costs far more than reading a global.
    global _functional_module
    if _functional_module is None:
        from . import functional

        _functional_module = functional
    return _functional_module


class Tensor:
    """A NumPy array that can remember how it was made and hold a gradient.

    array:         the data (float64 input is stored as float32).
    requires_grad: whether backprop should compute a gradient for it.
    grad:          a Tensor holding dL/d(this), filled in by backprop for
                   leaves that require grad; None until then.
    recipe:        how this Tensor was computed; None for a tensor you made.
    """

    def __init__(self, array: Any, requires_grad: bool = False):
        if not isinstance(array, np.ndarray):
            array = np.array(array)
        if array.dtype == _FLOAT64:
            array = array.astype(np.float32)
        self.array: Arr = array
        self.requires_grad: bool = requires_grad
        self.grad: Tensor | None = None
        self.recipe: Recipe | None = None

    def __repr__(self) -> str:
        return f"Tensor({self.array!r}, requires_grad={self.requires_grad})"

    # Tensors are compared with `==` elementwise (like arrays), so they are
    # hashed by identity: each Tensor is its own dictionary key. (object's
    # own hash is that identity hash, and costs less than a Python method.)
    __hash__ = object.__hash__

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError("the truth value of a Tensor with more than one value is ambiguous")
        return bool(self.array.item())

    def item(self) -> Any:
        return self.array.item()

    def numpy(self) -> Arr:
        return self.array

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def size(self) -> int:
        return self.array.size

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def is_leaf(self) -> bool:
        """True where backprop stops: a tensor made by hand, or one that
        does not require grad, or one whose recipe has no parents."""
        return not self.requires_grad or self.recipe is None or not self.recipe.parents

    def backward(self, end_grad: Arr | Tensor | None = None) -> None:
        """Backpropagate from this tensor; see `backprop` in part2_autograd.py."""
        from .part2_autograd import backprop

        if isinstance(end_grad, np.ndarray):
            end_grad = Tensor(end_grad)
        backprop(self, end_grad)

    # Operators: each one calls the function of the same name in functional.py.

    def __neg__(self) -> Tensor:
        return _functional().negative(self)

    def __add__(self, other: Any) -> Tensor:
        return _functional().add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _functional().add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _functional().subtract(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _functional().subtract(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _functional().multiply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _functional().multiply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _functional().true_divide(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _functional().true_divide(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _functional().matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _functional().matmul(other, self)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _functional().eq(self, other)

    def __getitem__(self, index: Any) -> Tensor:
        return _functional().getitem(self, index)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        _functional().add_(self, other, alpha=alpha)
        return self

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        _functional().sub_(self, other, alpha=alpha)
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    @property
    def T(self) -> Tensor:
        return _functional().permute(self, axes=(-1, -2))

    def sum(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _functional().sum(self, dim=dim, keepdim=keepdim)

    def log(self) -> Tensor:
        return _functional().log(self)

    def exp(self) -> Tensor:
        return _functional().exp(self)

    def reshape(self, new_shape: tuple[int, ...]) -> Tensor:
        return _functional().reshape(self, new_shape)

    def permute(self, dims: tuple[int, ...]) -> Tensor:
        return _functional().permute(self, axes=dims)

    def expand(self, new_shape: tuple[int, ...]) -> Tensor:
        return _functional().expand(self, new_shape)

    def maximum(self, other: Any) -> Tensor:
        return _functional().maximum(self, other)

    def relu(self) -> Tensor:
        return _functional().relu(self)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _functional().argmax(self, dim=dim, keepdim=keepdim)


def tensor(array: Any, requires_grad: bool = False) -> Tensor:
    """Shorthand for `Tensor(array, requires_grad)`."""
    return Tensor(array, requires_grad=requires_grad)
