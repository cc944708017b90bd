"""Part 1: backward functions by hand.

A backward function answers one question: given dL/d(out), the gradient of
the loss with respect to an operation's output, what is dL/d(x) for one of its
inputs? Every backward function in this kit has the same signature,

    some_back(grad_out, out, *forward_args, **forward_kwargs) -> gradient

where `out` is the forward result, `forward_args` are the inputs the forward
function was called with, and the gradient returned has the shape of the one
argument it is for. Nothing here knows about Tensors yet: it is all NumPy.

Never change grad_out, out or the inputs in place (no `grad_out *= ...`):
backprop may hand the same array to several backward functions.
"""

import numpy as np

Arr = np.ndarray


def sin_back(grad_out: Arr, out: Arr, x: Arr) -> Arr:
    """Worked example: the backward function of `out = np.sin(x)`.

    Elementwise, d(out)/dx = cos(x). By the chain rule each entry of the
    gradient is dL/dx = dL/d(out) * d(out)/dx, so the whole gradient is
    `grad_out * cos(x)`, with the shape of x.
    """
    return grad_out * np.cos(x)


def log_back(grad_out: Arr, out: Arr, x: Arr) -> Arr:
    """Backward function of `out = np.log(x)`, elementwise.

    Given grad_out = dL/d(out), return dL/dx. The entries of x are positive.

    grad_out, out and x all have the same shape; so does the result.
    """
    return grad_out / x


def unbroadcast(broadcasted: Arr, original: Arr) -> Arr:
    """Sum a gradient back down to the shape of the array it belongs to.

    When NumPy broadcasts `original` up to a larger shape, each entry of
    `original` is used several times: it has copies. `broadcasted` is a
    gradient shaped like the broadcast result, with one entry per copy. Return
    the gradient of `original` itself: each of its entries gets the sum of the
    gradients of all its copies.

    Broadcasting may have added dims in front ((3, 4) -> (2, 3, 4)) and
    stretched dims of size 1 ((3, 1) -> (3, 4)), or both. A 0-d `original` (a
    scalar array) was copied to every entry.

    Returns an array with exactly `original.shape`.
    """
    if broadcasted.shape == original.shape:
        # Nothing was broadcast: the gradient is already the right shape.
        return np.asarray(broadcasted)
    leading_dims = broadcasted.ndim - original.ndim
    summed = broadcasted.sum(axis=tuple(range(leading_dims)))
    stretched_dims = tuple(dim for dim, size in enumerate(original.shape) if size == 1 and summed.shape[dim] != 1)
    if stretched_dims:
        # (Only then: a sum over no axes would still copy the whole array.)
        summed = summed.sum(axis=stretched_dims, keepdims=True)
    # For a 0-d original, NumPy's sum gives back a NumPy scalar, not an
    # array; asarray keeps the promise of returning an array.
    return np.asarray(summed)


def multiply_back0(grad_out: Arr, out: Arr, x: Arr, y: Arr | float) -> Arr:
    """Backward function of `out = x * y` with respect to x (argument 0).

    Given grad_out = dL/d(out), return dL/dx, shaped like x. x and y may have
    been broadcast against each other, so grad_out has the broadcast shape,
    which may be larger than x's.

    y may be a plain Python number instead of an array.
    """
    return unbroadcast(grad_out * y, x)


def multiply_back1(grad_out: Arr, out: Arr, x: Arr | float, y: Arr) -> Arr:
    """Backward function of `out = x * y` with respect to y (argument 1).

    Given grad_out = dL/d(out), return dL/dy, shaped like y (x and y may have
    been broadcast against each other).

    x may be a plain Python number instead of an array.
    """
    return unbroadcast(grad_out * x, y)


def forward_and_back(a: Arr, b: Arr, c: Arr) -> tuple[Arr, Arr, Arr]:
    """Backpropagate by hand through g = log(a * b * log(c)).

    The computation, one NumPy call per step:

        d = a * b        e = log(c)        f = d * e        g = log(f)

    Run it forward, then call your backward functions from g back to a, b and
    c, starting from dL/dg = 1 for every entry of g (so L = g.sum()).
    a, b and c have the same shape.

    Returns (dg/da, dg/db, dg/dc), each shaped like its input.
    """
    d = a * b
    e = np.log(c)
    f = d * e
    g = np.log(f)

    grad_g = np.ones_like(g)
    grad_f = log_back(grad_g, g, f)
    grad_d = multiply_back0(grad_f, f, d, e)
    grad_e = multiply_back1(grad_f, f, d, e)
    grad_a = multiply_back0(grad_d, d, a, b)
    grad_b = multiply_back1(grad_d, d, a, b)
    grad_c = log_back(grad_e, e, c)
    return grad_a, grad_b, grad_c
