"""Hidden suite for Part 1: backward functions by hand.

Mistakes these cases are built to catch:
- log_back: grad_out * x, grad_out / out (used out for x), forgetting grad_out,
  a flipped sign, changing an input in place.
- unbroadcast: summing without keepdims, only summing leading dims, only
  summing size-1 dims, summing the wrong end, failing on 0-d originals or on
  zero-size dims, taking a mean instead of a sum, returning the broadcast
  shape, returning a Python float (not an array) for a 0-d original.
- multiply_back0/1: swapping x and y, no unbroadcast, failing on a Python
  scalar operand (float or int), forgetting grad_out, using out for the other operand.
- forward_and_back: a missing chain-rule factor, gradients out of order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cases import CaseFailure, probe
from ..numeric import expect_array, numerical_vjp
from ..seeds import rng
from ..observe import returned
from .common import backward_case, changed_inputs, copies, expect_not_a_python_number, expect_untouched, float32

MODULE = "part1_backward"


def positive(seed: int, shape: tuple[int, ...], low: float = 0.5, high: float = 3.0) -> np.ndarray:
    return float32(rng(seed).uniform(low, high, size=shape))


def normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return float32(rng(seed).normal(size=shape))


# 1.1 log_back ---------------------------------------------------------------

for seed, shape in [(11, (3, 4)), (12, (5,)), (13, ()), (14, (2, 1, 3))]:
    backward_case(
        "1.1", f"log_back on x of shape {shape}",
        module=MODULE, function="log_back", forward=np.log,
        args=[positive(seed, shape)], wrt=0, seed=seed,
        mistakes={
            "with grad_out * x: the derivative of log(x) is 1/x, not x": lambda grad_out, out, x: grad_out * x,
        },
    )


# 1.2 unbroadcast ------------------------------------------------------------

# (shape of the broadcast gradient, shape of the original)
UNBROADCAST_PATTERNS = [
    ((3, 4), (3, 4)),
    ((2, 3, 4), (3, 4)),
    ((3, 4), (3, 1)),
    ((3, 4), (1, 4)),
    ((2, 3, 4), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((2, 3, 4, 5), (3, 1, 5)),
    ((3, 4), (1, 1)),
    ((5,), ()),
    ((2, 3), ()),
    ((), ()),
    ((4, 3), (1,)),
    ((2, 1, 4), (1, 4)),
    ((6, 2, 5), (6, 1, 1)),
    ((2, 3, 4), (4,)),  # two dims added in front of an original that is not 0-d
    ((3, 2, 4, 5), (1, 5)),
    ((2, 3, 4), (1, 3, 1)),  # size-1 dims at both ends
    # Zero-size dims: nothing to add up, but the shape must still come out right.
    ((0, 3), (3,)),
    ((3, 0), (3, 1)),
    ((2, 0, 4), (0, 1)),
]


def unbroadcast_case(index: int, broadcast_shape: tuple[int, ...], original_shape: tuple[int, ...]) -> None:
    grad = normal(100 + index, broadcast_shape)
    original = normal(200 + index, original_shape)

    @probe("1.2", f"unbroadcast from {broadcast_shape} to {original_shape}")
    def case(student: Any) -> dict[str, Any]:
        inputs = copies([grad, original])
        result = student.part1_backward.unbroadcast(*inputs)
        return {"result": returned(result), "mutated": changed_inputs([grad, original], inputs, ["broadcasted", "original"])}

    @case.judge
    def _(observation: dict[str, Any]) -> None:
        expect_untouched(observation, "unbroadcast")
        what = f"unbroadcast(broadcasted of shape {broadcast_shape}, original of shape {original_shape})"
        expect_not_a_python_number(observation["result"], what)
        if grad.size == 0:
            # No entry was used at all: every gradient is an empty sum.
            expected = np.zeros(original_shape)
        else:
            # Broadcasting is linear: the gradient of sum(broadcast_to(o) * grad)
            # with respect to o is exactly what unbroadcast must return.
            expected = numerical_vjp(lambda o: np.broadcast_to(o, broadcast_shape), [original], 0, grad)
        expect_array(observation["result"], expected, what=what, broadcast_shape=broadcast_shape)


for index, (broadcast_shape, original_shape) in enumerate(UNBROADCAST_PATTERNS):
    unbroadcast_case(index, broadcast_shape, original_shape)


# 1.3 multiply_back0 and multiply_back1 ---------------------------------------

MULTIPLY_OPERANDS = [
    ("same shapes", normal(31, (3, 4)), normal(32, (3, 4))),
    ("y broadcast along rows", normal(33, (3, 4)), normal(34, (4,))),
    ("both broadcast", normal(35, (3, 1)), normal(36, (1, 4))),
    ("x broadcast from a column", normal(37, (2, 3, 1)), normal(38, (3, 5))),
    ("0-d arrays", normal(39, ()), normal(40, ())),
]


def summed_to(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """values summed down to shape (an oracle-side unbroadcast, for known wrong answers)."""
    values = values.sum(axis=tuple(range(values.ndim - len(shape))))
    stretched = tuple(dim for dim, size in enumerate(shape) if size == 1 and values.shape[dim] != 1)
    return values.sum(axis=stretched, keepdims=True).reshape(shape)


def with_out_for_other(position: int) -> dict[str, Any]:
    """grad_out * out in place of grad_out * (the other operand): out = x * y is not the other operand."""
    other = "y" if position == 0 else "x"
    return {
        f"from grad_out * out: the derivative of x * y with respect to {'xy'[position]} is {other}, not out (used out where {other} was meant)":
            lambda g, out, x, y: summed_to(np.broadcast_to(g * out, np.shape(out)), np.shape((x, y)[position])),
    }


for label, x, y in MULTIPLY_OPERANDS:
    for position, function in enumerate(("multiply_back0", "multiply_back1")):
        backward_case(
            "1.3", f"{function}, {label}",
            module=MODULE, function=function, forward=np.multiply,
            args=[x, y], wrt=position, seed=41 + position, mistakes=with_out_for_other(position),
        )

backward_case(
    "1.3", "multiply_back0 with y a Python float",
    module=MODULE, function="multiply_back0", forward=np.multiply,
    args=[normal(42, (2, 3)), 2.5], wrt=0, seed=43,
)
backward_case(
    "1.3", "multiply_back1 with x a Python float",
    module=MODULE, function="multiply_back1", forward=np.multiply,
    args=[-1.5, normal(44, (4,))], wrt=1, seed=45,
)
backward_case(
    "1.3", "multiply_back0 with y a Python int",
    module=MODULE, function="multiply_back0", forward=np.multiply,
    args=[normal(46, (3, 2)), 3], wrt=0, seed=47,
)
backward_case(
    "1.3", "multiply_back1 with x a Python int and y 0-d",
    module=MODULE, function="multiply_back1", forward=np.multiply,
    args=[-2, normal(48, ())], wrt=1, seed=49,
)


# 1.4 forward_and_back --------------------------------------------------------


def g_of(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.log(a * b * np.log(c))


def forward_and_back_case(seed: int, shape: tuple[int, ...]) -> None:
    a = positive(seed, shape, 0.5, 2.0)
    b = positive(seed + 1, shape, 0.5, 2.0)
    c = positive(seed + 2, shape, 1.5, 4.0)

    @probe("1.4", f"forward_and_back on inputs of shape {shape}")
    def case(student: Any) -> dict[str, Any]:
        inputs = copies([a, b, c])
        result = student.part1_backward.forward_and_back(*inputs)
        # A stacked array of shape (3, *shape) unpacks like a tuple of three.
        stacked = isinstance(result, np.ndarray) and result.shape == (3, *shape)
        if (isinstance(result, (tuple, list)) and len(result) == 3) or stacked:
            gradients = [returned(item) for item in result]
        else:
            gradients = returned(result)
        return {"gradients": gradients, "mutated": changed_inputs([a, b, c], inputs, "abc")}

    @case.judge
    def _(observation: dict[str, Any]) -> None:
        expect_untouched(observation, "forward_and_back")
        gradients = observation["gradients"]
        if not isinstance(gradients, list) and gradients.get("type") == "NoneType":
            raise CaseFailure("forward_and_back returned None; it should return a tuple of three arrays (dg/da, dg/db, dg/dc). Did you forget a `return`?")
        if not isinstance(gradients, list):
            raise CaseFailure(f"forward_and_back returned a {gradients.get('type')}; it should return a tuple of three arrays (dg/da, dg/db, dg/dc).")
        right = [numerical_vjp(g_of, [a, b, c], position, np.ones(shape)) for position in range(3)]
        for position, name in enumerate("abc"):
            # Known wrong answers: another input's gradient (out of order),
            # and for c, log's local derivative alone (a missing chain-rule factor).
            mistakes = {
                f"for {other} instead of {name}: the gradients are out of order (return dg/da, dg/db, dg/dc)": right[index]
                for index, other in enumerate("abc") if index != position
            }
            # log_back(grad, out, x) given g = log(f) where f belongs: 1/g in place of 1/f.
            mistakes["with 1/g in place of 1/f at the last step: log_back was given g (out) where f (x) was meant"] = (
                lambda position=position: numerical_vjp(lambda a, b, c: a * b * np.log(c), [a, b, c], position, np.ones(shape))
                / g_of(a.astype(np.float64), b.astype(np.float64), c.astype(np.float64))
            )
            mistakes["for f = a * b * log(c): the chain rule through the last log (g = log f) is missing"] = (
                lambda position=position: numerical_vjp(lambda a, b, c: a * b * np.log(c), [a, b, c], position, np.ones(shape))
            )
            if name == "c":
                mistakes["from 1/c alone: a missing chain-rule factor (multiply by the gradient that reaches e)"] = 1 / c.astype(np.float64)
                a64, b64, c64 = (v.astype(np.float64) for v in (a, b, c))
                mistakes["without the factor d = a * b: the gradient reaching e from f = d * e is dg/df * d"] = (
                    1 / (a64 * b64 * np.log(c64)) / c64
                )
            expect_array(gradients[position], right[position], what=f"dg/d{name} from forward_and_back on shape {shape}", mistakes=mistakes)


forward_and_back_case(51, (3,))
forward_and_back_case(54, (2, 3))
forward_and_back_case(57, ())
