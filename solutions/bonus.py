"""Bonus exercises: scored apart from the main total.

b.1  Recursion-free topological sort. Nothing to write in this file: the
     checker runs your own `topological_sort` (part2_autograd.py) on graphs
     10,000 nodes deep. A recursive depth-first search needs one Python stack
     frame per node on the current path and stops at Python's recursion limit
     (about 1,000 frames). Kahn's algorithm (see the hints of 2.4) uses loops
     only; a depth-first search can too, with an explicit stack.

b.2  `numerical_gradient`: the tool this kit's checker is built on. Write
     your own, and use it to test any backward function you write.

b.3  In-place modification detection with version counters, as PyTorch has.
     A Recipe keeps the very arrays a forward function was called with, so
     changing one of them in place after the forward silently corrupts the
     gradients that backprop computes later. Count in-place changes, note the
     counts at forward time, and refuse to backprop when they moved.

b.4  Backward functions for `np.matmul` itself: batch dims that broadcast,
     and 1-D operands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .core import Arr, Tensor
from .part1_backward import unbroadcast
from .part2_autograd import backprop, sorted_computational_graph, wrap_forward_fn

# b.2 A numerical gradient --------------------------------------------------


def numerical_gradient(f: Callable[[Arr], Any], x: Arr, eps: float = 1e-6) -> Arr:
    """df/dx by central differences, one entry of x at a time.

    f takes an array shaped like x and returns a scalar (a Python float or a
    0-d array). x is a float64 array of any shape, 0-d included. For each
    index i of x, with e_i the array that is 1 at i and 0 elsewhere:

        gradient[i] = (f(x + eps * e_i) - f(x - eps * e_i)) / (2 * eps)

    Work in float64 throughout: with eps = 1e-6, float32 cannot even
    represent x + eps for most x.

    Returns a new float64 array shaped like x. When the function returns, x
    holds exactly the values it had before (you may change its entries
    while you work, if you put them back).
    """
    x_work = np.array(x, dtype=np.float64, copy=True)
    gradient = np.zeros_like(x_work)
    for index in np.ndindex(x_work.shape):
        original = x_work[index]
        x_work[index] = original + eps
        above = float(f(x_work))
        x_work[index] = original - eps
        below = float(f(x_work))
        # Put back the saved value itself: adding and subtracting eps
        # would leave a rounding error behind.
        x_work[index] = original
        gradient[index] = (above - below) / (2 * eps)
    return gradient


# b.3 In-place modification detection ----------------------------------------


def version_of(tensor: Tensor) -> int:
    """How many times `tensor` was changed in place by `versioned_add_` (or
    `versioned_sub_`): its *version*. Every Tensor starts at version 0.

    The count lives in the attribute `tensor.version`, which a Tensor only
    gets the first time it is changed in place.
    """
    return getattr(tensor, "version", 0)


class InPlaceModificationError(RuntimeError):
    """Raised by `checked_backprop`: a tensor that some forward call saved for
    backward was changed in place since that call.

    tensor:          the Tensor that was changed.
    operation:       the name of the forward function that saved it ("multiply").
    saved_version:   its version when that function ran.
    current_version: its version now.
    """

    def __init__(self, tensor: Tensor, operation: str, saved_version: int, current_version: int):
        self.tensor = tensor
        self.operation = operation
        self.saved_version = saved_version
        self.current_version = current_version
        super().__init__(
            f"a tensor of shape {tuple(tensor.shape)} that {operation} saved for backward was "
            f"changed in place after {operation} ran: it is at version {current_version}, but "
            f"{operation} used it at version {saved_version}, so backprop would compute "
            f"gradients from the wrong values. Compute a new tensor (x = x + y) instead of changing "
            f"this one in place, or change it only after calling backward."
        )


def versioned_add_(x: Tensor, other: Tensor | Arr | float, alpha: float = 1.0) -> Tensor:
    """In place: x.array += alpha * other, and x's version goes up by one.

    other is a Tensor, an array or a number. Change the entries of x's
    existing array (x.array stays the same object, with its shape and dtype),
    then record the change: `x.version = version_of(x) + 1`.

    Returns x.
    """
    other_value = other.array if isinstance(other, Tensor) else other
    x.array += alpha * np.asarray(other_value)
    x.version = version_of(x) + 1
    return x


def versioned_sub_(x: Tensor, other: Tensor | Arr | float, alpha: float = 1.0) -> Tensor:
    """In place: x.array -= alpha * other, and x's version goes up by one."""
    return versioned_add_(x, other, alpha=-alpha)


def checked_forward_fn(numpy_func: Callable, is_differentiable: bool = True) -> Callable:
    """Like `wrap_forward_fn(numpy_func, is_differentiable)`, and the result
    also remembers the versions of the tensors its backward will read.

    A backward function is called as `back_fn(grad_out, out, *args)`: it
    reads the array of *every* Tensor argument (also those that do not
    require grad, such as a constant factor) and the result `out` itself.
    So when the result gets a recipe, save each of those Tensors with its
    version at this moment, the result included (at version 0). Keep them
    on the result, e.g. as a list of (tensor, version) pairs in an
    attribute `out.saved_versions`; `checked_backprop` reads them.

    A result without a recipe saves nothing: backprop never looks at it.
    """
    tensor_func = wrap_forward_fn(numpy_func, is_differentiable)

    def checked_func(*args: Any, **kwargs: Any) -> Tensor:
        out = tensor_func(*args, **kwargs)
        if out.recipe is not None:
            saved = [(arg, version_of(arg)) for arg in args if isinstance(arg, Tensor)]
            saved.append((out, version_of(out)))
            out.saved_versions = saved
        return out

    return checked_func


def checked_backprop(end_node: Tensor, end_grad: Tensor | None = None) -> None:
    """`backprop(end_node, end_grad)`, after making sure nothing it will read
    was changed in place.

    For every Tensor in `sorted_computational_graph(end_node)` that saved
    versions (see `checked_forward_fn`), compare each saved tensor's version
    then with its version now. On the first difference, raise
    `InPlaceModificationError(tensor, operation, saved_version,
    current_version)`, where operation names the forward function.

    Check the whole graph before computing anything: when this raises, no
    `.grad` has changed. Tensors made some other way (without saved
    versions) are not checked.
    """
    for node in sorted_computational_graph(end_node):
        for tensor, saved_version in getattr(node, "saved_versions", ()):
            current_version = version_of(tensor)
            if current_version != saved_version:
                operation = getattr(node.recipe.func, "__name__", "an operation")
                raise InPlaceModificationError(tensor, operation, saved_version, current_version)
    backprop(end_node, end_grad)


# b.4 Batched matmul backward -------------------------------------------------


def matmul_back0(grad_out: Arr, out: Arr, x: Arr, y: Arr) -> Arr:
    """Backward function of `out = np.matmul(x, y)` with respect to x.

    np.matmul treats the last two dims of each operand as a matrix and all
    dims before them as a batch, which broadcasts like any elementwise
    operation: x of shape (2, 1, n, k) and y of shape (5, k, m) give out of
    shape (2, 5, n, m). Each matrix product is `_matmul2d`'s, so its
    gradient is grad_out @ y^T with y^T = y.swapaxes(-1, -2); sum it back to
    x's shape with `unbroadcast`.

    1-D operands: a 1-D x of shape (k,) acts as a (1, k) matrix whose added
    dim is then dropped from out; a 1-D y of shape (k,) acts as a (k, 1)
    matrix likewise. Put those dims back (on x, y and grad_out) before the
    product and take them out of the result. Two 1-D operands give a 0-d out.

    Returns an array shaped like x.
    """
    grad_out = np.asarray(grad_out)
    x_matrix = x[np.newaxis, :] if x.ndim == 1 else x
    y_matrix = y[:, np.newaxis] if y.ndim == 1 else y
    # out's matrix dims are (rows of x, columns of y), without the one of a
    # 1-D operand: put back the columns first, then the rows in front of them.
    if y.ndim == 1:
        grad_out = grad_out[..., np.newaxis]
    if x.ndim == 1:
        grad_out = grad_out[..., np.newaxis, :]
    grad_x = unbroadcast(grad_out @ y_matrix.swapaxes(-1, -2), x_matrix)
    return grad_x.reshape(x.shape)


def matmul_back1(grad_out: Arr, out: Arr, x: Arr, y: Arr) -> Arr:
    """Backward function of `out = np.matmul(x, y)` with respect to y.

    The gradient of each matrix product is x^T @ grad_out, with
    x^T = x.swapaxes(-1, -2), summed back to y's shape with `unbroadcast`;
    1-D operands as in `matmul_back0`.

    Returns an array shaped like y.
    """
    grad_out = np.asarray(grad_out)
    x_matrix = x[np.newaxis, :] if x.ndim == 1 else x
    y_matrix = y[:, np.newaxis] if y.ndim == 1 else y
    # out's matrix dims are (rows of x, columns of y), without the one of a
    # 1-D operand: put back the columns first, then the rows in front of them.
    if y.ndim == 1:
        grad_out = grad_out[..., np.newaxis]
    if x.ndim == 1:
        grad_out = grad_out[..., np.newaxis, :]
    grad_y = unbroadcast(x_matrix.swapaxes(-1, -2) @ grad_out, y_matrix)
    return grad_y.reshape(y.shape)
