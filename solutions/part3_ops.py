"""Part 3: more operations.

Parts 1 and 2 built the machinery; this part gives it enough operations to
train a neural network. Most exercises are backward functions with the
signature of Part 1,

    some_back(grad_out, out, *forward_args, **forward_kwargs) -> gradient,

each returning the gradient for one argument, shaped like that argument
(as in Part 1, never change the arguments in place).
functional.py wraps the forward functions into Tensor functions and
registers these backward functions in BACK_FUNCS.

A few exercises work on Tensors instead (`relu`, `argmax`, `add_`, `sub_`):
they are built from the Tensor operations, so they need Part 2.

`flip_back`, first below, is given: a worked example of a backward function
whose forward takes an extra argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Arr, Tensor
from .part1_backward import unbroadcast

# ---------------------------------------------------------------------------
# Worked example: a backward function whose forward takes more arguments
# ---------------------------------------------------------------------------


def flip_back(grad_out: Arr, out: Arr, x: Arr, axis: int | tuple[int, ...] | None = None) -> Arr:
    """Given (a worked example): backward function of `out = np.flip(x, axis)`.

    grad_out and out have x's shape; so does the result. `axis` is passed on
    exactly as the forward got it (None flips every axis).
    """
    # Flipping moves entries without changing them: out[i] = x[j] for one j
    # per i (along the flipped axes, j = n - 1 - i). So dL/dx[j] is the
    # upstream gradient of the entry x[j] went to, dL/dout[i]: the upstream
    # gradient moved back by the same permutation. A flip is its own
    # inverse, so that is flipping grad_out along the same axes. The
    # forward's extra argument (`axis`) arrives after x, as a keyword if the
    # forward got it as one, and tells the backward what the forward did.
    return np.flip(grad_out, axis)


# ---------------------------------------------------------------------------
# 3.1 negative and exp
# ---------------------------------------------------------------------------


def negative_back(grad_out: Arr, out: Arr, x: Arr) -> Arr:
    """Backward function of `out = np.negative(x)`, that is out = -x.

    grad_out, out and x have the same shape; so does the result.
    """
    return -grad_out


def exp_back(grad_out: Arr, out: Arr, x: Arr) -> Arr:
    """Backward function of `out = np.exp(x)`, elementwise.

    grad_out, out and x have the same shape; so does the result.
    """
    # `out` already holds exp(x): no need to compute it again.
    return grad_out * out


# ---------------------------------------------------------------------------
# 3.2 reshape
# ---------------------------------------------------------------------------


def reshape_back(grad_out: Arr, out: Arr, x: Arr, new_shape: tuple[int, ...]) -> Arr:
    """Backward function of `out = np.reshape(x, new_shape)`.

    Reshaping moves no entry relative to the others in C order: entry k of
    x.ravel() is entry k of out.ravel().

    grad_out has out's shape (new_shape, with any -1 worked out); the result
    has x.shape.
    """
    return np.reshape(grad_out, x.shape)


# ---------------------------------------------------------------------------
# 3.3 permute (np.transpose with an axes tuple)
# ---------------------------------------------------------------------------


def invert_transposition(axes: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes `axes`.

    `axes` is a permutation of (0, 1, ..., n-1). np.transpose(a, axes) puts
    dim axes[i] of a at position i. The result `inverse` satisfies
    inverse[axes[i]] = i, so that

        np.transpose(np.transpose(a, axes), inverse)

    is `a` again. Example: the inverse of (1, 2, 0) is (2, 0, 1), not
    (1, 2, 0) itself.

    Returns the inverse as a tuple of ints of the same length as axes (a
    list of the same ints is accepted too: np.transpose takes either).
    """
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return tuple(inverse)


def permute_back(grad_out: Arr, out: Arr, x: Arr, axes: tuple[int, ...] | None = None) -> Arr:
    """Backward function of `out = np.transpose(x, axes)`.

    Transposing moves entries without changing them: out's dim i is x's dim
    axes[i].

    axes may contain negative dims (`Tensor.T` uses axes=(-1, -2)); None
    means reverse all dims, as in np.transpose.

    grad_out has out's shape; the result has x.shape.
    """
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    # invert_transposition wants 0..n-1: turn -1 into n-1 and so on first.
    axes = tuple(axis % x.ndim for axis in axes)
    return np.transpose(grad_out, invert_transposition(axes))


# ---------------------------------------------------------------------------
# 3.4 expand
# ---------------------------------------------------------------------------


def _expand(x: Arr, new_shape: tuple[int, ...]) -> Arr:
    """Broadcast x to new_shape, like PyTorch's `Tensor.expand`.

    new_shape may be longer than x.shape: the extra dims come first and are
    new. In the last x.ndim entries, -1 means "keep this dim of x" and any
    other value must equal x's size there or x's size must be 1.

    >>> _expand(np.zeros((3, 1)), (2, -1, 4)).shape
    (2, 3, 4)

    Returns an array of the expanded shape (a read-only view is fine).
    """
    new_dims = len(new_shape) - x.ndim
    kept_or_given = tuple(x.shape[dim] if size == -1 else size for dim, size in enumerate(new_shape[new_dims:]))
    return np.broadcast_to(x, tuple(new_shape[:new_dims]) + kept_or_given)


def expand_back(grad_out: Arr, out: Arr, x: Arr, new_shape: tuple[int, ...]) -> Arr:
    """Backward function of `out = _expand(x, new_shape)`.

    Every entry of out is a copy of one entry of x (see _expand).

    grad_out has the expanded shape; the result has x.shape.
    """
    return unbroadcast(grad_out, x)


# ---------------------------------------------------------------------------
# 3.5 sum
# ---------------------------------------------------------------------------


def _sum(x: Arr, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Arr:
    """Given: `np.sum` with PyTorch's argument names.

    dim: None (sum everything), an int (possibly negative), or a tuple of ints.
    keepdim: keep the summed dims as size 1.
    """
    return np.sum(x, axis=dim, keepdims=keepdim)


def sum_back(grad_out: Arr, out: Arr, x: Arr, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Arr:
    """Backward function of `out = _sum(x, dim, keepdim)`.

    Each entry out[j] is the sum of the entries of x that the summed dims
    collapse onto j.

    dim: None (all dims), an int, a negative int, or a tuple of them.
    keepdim: whether out kept the summed dims as size 1; if False, they are
    missing from out and from grad_out.

    grad_out has out's shape; the result has x.shape.
    """
    if dim is None:
        summed_dims = tuple(range(x.ndim))
    elif isinstance(dim, int):
        summed_dims = (dim % x.ndim,)
    else:
        summed_dims = tuple(d % x.ndim for d in dim)
    if not keepdim:
        grad_out = np.expand_dims(grad_out, summed_dims)
    # A new array of x's shape (not a read-only broadcast view, which later
    # code could not write to), with grad_out copied along the summed dims:
    # assigning into it broadcasts.
    grad = np.empty(x.shape, dtype=np.result_type(grad_out))
    grad[...] = grad_out
    return grad


# ---------------------------------------------------------------------------
# 3.6 indexing
# ---------------------------------------------------------------------------


def coerce_index(index: Any) -> Any:
    """An index with every Tensor in it replaced by that Tensor's array.

    `t[i]` may be indexed by a Tensor (`t[labels]`) or by a tuple holding
    Tensors (`t[rows, labels]`), as well as by ints, slices, lists and arrays.
    NumPy understands arrays, not Tensors, so swap each Tensor, at the top
    level or inside a tuple, for its `.array`; leave everything else as it is.
    """
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(coerce_index(part) for part in index)
    return index


def _getitem(x: Arr, index: Any) -> Arr:
    """Given: `x[index]`, where the index may hold Tensors (see coerce_index)."""
    return x[coerce_index(index)]


def getitem_back(grad_out: Arr, out: Arr, x: Arr, index: Any) -> Arr:
    """Backward function of `out = _getitem(x, index)`, that is x[index].

    Each entry of out is read from one entry of x. Some entries of x may not
    be read at all, and an integer-array index may read the same entry more
    than once (x[[0, 0]] reads x[0] twice).

    grad_out has out's shape; the result has x.shape.
    """
    grad = np.zeros(x.shape, dtype=np.result_type(x, grad_out))
    np.add.at(grad, coerce_index(index), grad_out)
    return grad


# ---------------------------------------------------------------------------
# 3.7 add, subtract, true_divide
# ---------------------------------------------------------------------------
# Either operand may be broadcast against the other, and one of them may be
# a Python number (then only the other one gets a gradient).


def add_back0(grad_out: Arr, out: Arr, x: Arr, y: Arr | float) -> Arr:
    """Backward function of `out = x + y` with respect to x; the result has x.shape."""
    return unbroadcast(grad_out, x)


def add_back1(grad_out: Arr, out: Arr, x: Arr | float, y: Arr) -> Arr:
    """Backward function of `out = x + y` with respect to y; the result has y.shape."""
    return unbroadcast(grad_out, y)


def subtract_back0(grad_out: Arr, out: Arr, x: Arr, y: Arr | float) -> Arr:
    """Backward function of `out = x - y` with respect to x; the result has x.shape."""
    return unbroadcast(grad_out, x)


def subtract_back1(grad_out: Arr, out: Arr, x: Arr | float, y: Arr) -> Arr:
    """Backward function of `out = x - y` with respect to y; the result has y.shape."""
    return unbroadcast(-grad_out, y)


def true_divide_back0(grad_out: Arr, out: Arr, x: Arr, y: Arr | float) -> Arr:
    """Backward function of `out = x / y` with respect to x; the result has x.shape."""
    return unbroadcast(grad_out / y, x)


def true_divide_back1(grad_out: Arr, out: Arr, x: Arr | float, y: Arr) -> Arr:
    """Backward function of `out = x / y` with respect to y; the result has y.shape.

    The entries of y are non-zero.
    """
    return unbroadcast(-grad_out * x / y**2, y)


# ---------------------------------------------------------------------------
# 3.8 maximum and relu
# ---------------------------------------------------------------------------


def maximum_back0(grad_out: Arr, out: Arr, x: Arr, y: Arr | float) -> Arr:
    """Backward function of `out = np.maximum(x, y)` with respect to x.

    Where x == y, maximum has no derivative. Any split of grad_out between
    x and y there is accepted, provided the two shares add up to grad_out
    (maximum_back0's share for x plus maximum_back1's share for y): the
    checker leaves the choice to you. Splitting ties evenly, half to each, is
    the simplest symmetric choice.

    x and y may be broadcast against each other, and y may be a number;
    the result has x.shape.
    """
    grad = grad_out * (x > y)
    ties = x == y
    # Ties are rare in real data (relu's input is seldom exactly 0): only
    # then pay for the half shares. np.float32(0.5), not 0.5: a plain float
    # would make the gradient float64, and every matmul it flows back through.
    if ties.any():
        grad = grad + np.float32(0.5) * grad_out * ties
    return unbroadcast(grad, x)


def maximum_back1(grad_out: Arr, out: Arr, x: Arr | float, y: Arr) -> Arr:
    """Backward function of `out = np.maximum(x, y)` with respect to y.

    The mirror image of maximum_back0. At ties, y's share and x's share from
    maximum_back0 must add up to grad_out. x may be a number; the result has
    y.shape.
    """
    grad = grad_out * (y > x)
    ties = x == y
    if ties.any():
        grad = grad + np.float32(0.5) * grad_out * ties
    return unbroadcast(grad, y)


def relu(x: Tensor) -> Tensor:
    """The rectified linear unit on a Tensor: max(x, 0) elementwise.

    Build it from the Tensor operations (maximum with 0.0), so that backprop
    goes through maximum_back0 and needs nothing new. At x == 0 relu has no
    derivative; any value in [0, 1] is a valid choice there (1/2 with an even
    split of ties).

    Returns a new Tensor shaped like x.
    """
    return x.maximum(0.0)


# ---------------------------------------------------------------------------
# 3.9 matrix multiplication
# ---------------------------------------------------------------------------


def _matmul2d(x: Arr, y: Arr) -> Arr:
    """Matrix product of two 2-D arrays: x of shape (n, k), y of shape (k, m)
    give out of shape (n, m), out[i, j] = sum over l of x[i, l] * y[l, j].
    """
    return x @ y


def matmul2d_back0(grad_out: Arr, out: Arr, x: Arr, y: Arr) -> Arr:
    """Backward function of `out = _matmul2d(x, y)` with respect to x.

    x has shape (n, k), y (k, m), grad_out (n, m); the result has x's (n, k).
    """
    return grad_out @ y.T


def matmul2d_back1(grad_out: Arr, out: Arr, x: Arr, y: Arr) -> Arr:
    """Backward function of `out = _matmul2d(x, y)` with respect to y.

    x has shape (n, k), y (k, m), grad_out (n, m); the result has y's (k, m).
    """
    # Written into an array laid out like y: in Linear, y is the transposed
    # weight W.T, and a gradient in W's own row-major layout keeps the
    # optimiser's update fast (and needs no transposing copy).
    return np.matmul(x.T, grad_out, out=np.empty_like(y, dtype=np.result_type(x, grad_out)))


# ---------------------------------------------------------------------------
# 3.10 argmax and in-place updates
# ---------------------------------------------------------------------------


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the largest entry, as a Tensor of integers.

    dim=None: the index into the flattened x (a 0-d Tensor, or shape
    (1,) * x.ndim with keepdim). Otherwise the index along `dim` for each
    position of the other dims; keepdim keeps `dim` as size 1.

    argmax is not differentiable (it is piecewise constant and its values are
    indices): the result never requires grad and has no recipe.
    """
    return Tensor(np.argmax(x.array, axis=dim, keepdims=keepdim), requires_grad=False)


def add_(x: Tensor, other: Tensor | float, alpha: float = 1.0) -> Tensor:
    """In place: x.array += alpha * other, where other is a Tensor or a number.

    Change the entries of x's existing array: `x.array` must be the same
    array object afterwards (optimisers rely on Parameters sharing arrays),
    keeping its shape and dtype. Nothing is recorded for backprop.

    Returns x.
    """
    other_value = other.array if isinstance(other, Tensor) else other
    x.array += alpha * other_value
    return x


def sub_(x: Tensor, other: Tensor | float, alpha: float = 1.0) -> Tensor:
    """In place: x.array -= alpha * other; otherwise as add_.

    Returns x.
    """
    other_value = other.array if isinstance(other, Tensor) else other
    x.array -= alpha * other_value
    return x
