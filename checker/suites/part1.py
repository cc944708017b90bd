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
from ..observe import returned
from .common import (
    backward_case,
    call_case,
    changed_inputs,
    copies,
    expect_not_a_python_number,
    expect_returned,
    expect_untouched,
    normal,
    sum_to_shape,
    uniform,
)

MODULE = "part1_backward"


# 1.1 log_back ---------------------------------------------------------------

# Promises of log_back's docstring, and the cases that check them:
# - dL/dx = grad_out / x: "log_back on x of shape (3, 4)", "log_back on x of shape (5,)", "log_back on x of shape ()",
#   "log_back on x of shape (2, 1, 3)"
# - the result has the shape of x, also 0-d: "log_back on x of shape ()"
# - never change grad_out, out or x in place (module docstring): all cases, by the inputs compared before and after the
#   call (expect_untouched)
# - returns an array, not a Python number: all cases (expect_not_a_python_number)

# (input number, shape of x). x and grad_out are both drawn from the number:
# tests/fixtures/hardcoded/p1_log_back_lookup.py looks its answers up by
# these inputs' bytes, so they must not change.
LOG_BACK_INPUTS = [(11, (3, 4)), (12, (5,)), (13, ()), (14, (2, 1, 3))]
LOG_BACK_MISTAKES = {
    "with grad_out * x: the derivative of log(x) is 1/x, not x": lambda grad_out, out, x: grad_out * x,
}

for number, shape in LOG_BACK_INPUTS:
    backward_case(
        "1.1",
        f"log_back on x of shape {shape}",
        module=MODULE,
        function="log_back",
        forward=np.log,
        args=[uniform(number, shape, 0.5, 3.0)],
        wrt=0,
        seed=number,
        mistakes=LOG_BACK_MISTAKES,
    )


# 1.2 unbroadcast ------------------------------------------------------------

# Promises of unbroadcast's docstring, and the cases that check them:
# - sum the dims broadcasting added in front: "unbroadcast from (2, 3, 4) to (3, 4)",
#   "unbroadcast from (2, 3, 4) to (4,)", "unbroadcast from (3, 2, 4, 5) to (1, 5)"
# - sum size-1 dims with keepdims: "unbroadcast from (3, 4) to (3, 1)", "unbroadcast from (3, 4) to (1, 4)",
#   "unbroadcast from (6, 2, 5) to (6, 1, 1)", "unbroadcast from (2, 3, 4) to (1, 3, 1)",
#   "unbroadcast from (3, 4) to (1, 1)"
# - both steps together: "unbroadcast from (2, 3, 4, 5) to (3, 1, 5)", "unbroadcast from (2, 3, 4) to (1, 4)",
#   "unbroadcast from (2, 3, 4) to (3, 1)", "unbroadcast from (2, 1, 4) to (1, 4)", "unbroadcast from (4, 3) to (1,)"
# - a 0-d original receives the sum of everything: "unbroadcast from (5,) to ()", "unbroadcast from (2, 3) to ()",
#   "unbroadcast from () to ()"
# - returns an array (for a 0-d original too, not a Python float): "unbroadcast from (2, 3) to ()", and all cases
#   (expect_not_a_python_number)
# - exactly original.shape, zero-size dims included: "unbroadcast from (0, 3) to (3,)",
#   "unbroadcast from (3, 0) to (3, 1)", "unbroadcast from (2, 0, 4) to (0, 1)"
# - nothing broadcast, the same shape back: "unbroadcast from (3, 4) to (3, 4)"

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


def unbroadcast_answer(grad: np.ndarray, original: np.ndarray) -> np.ndarray:
    """What unbroadcast(grad, original) must return, in float64."""
    if grad.size == 0:
        # No entry was used at all: every gradient is an empty sum.
        return np.zeros(original.shape)
    # Broadcasting is linear: the gradient of sum(broadcast_to(o) * grad)
    # with respect to o is exactly what unbroadcast must return.
    return numerical_vjp(lambda o: np.broadcast_to(o, grad.shape), [original], 0, grad)


for index, (broadcast_shape, original_shape) in enumerate(UNBROADCAST_PATTERNS):
    grad, original = normal(100 + index, broadcast_shape), normal(200 + index, original_shape)
    what = f"unbroadcast(broadcasted of shape {broadcast_shape}, original of shape {original_shape})"
    call_case(
        "1.2",
        f"unbroadcast from {broadcast_shape} to {original_shape}",
        module=MODULE,
        function="unbroadcast",
        args=[grad, original],
        arg_names=["broadcasted", "original"],
        expected=lambda grad=grad, original=original: unbroadcast_answer(grad, original),
        what=what,
        broadcast_shape=broadcast_shape,
        check_first=lambda result, what=what: expect_not_a_python_number(result, what),
    )


# 1.3 multiply_back0 and multiply_back1 ---------------------------------------

# Promises of multiply_back0 and multiply_back1's docstrings, and the cases that check them:
# - dL/dx = grad_out * y, dL/dy = grad_out * x: "multiply_back0, same shapes", "multiply_back1, same shapes"
# - summed back with unbroadcast: "multiply_back0, y broadcast along rows", "multiply_back1, y broadcast along rows",
#   "multiply_back0, both broadcast", "multiply_back1, both broadcast", "multiply_back0, x broadcast from a column",
#   "multiply_back1, x broadcast from a column"
# - 0-d operands: "multiply_back0, 0-d arrays", "multiply_back1, 0-d arrays",
#   "multiply_back1 with x a Python int and y 0-d"
# - multiply_back0: y may be a plain Python number: "multiply_back0 with y a Python float",
#   "multiply_back0 with y a Python int"
# - multiply_back1: x may be a plain Python number: "multiply_back1 with x a Python float",
#   "multiply_back1 with x a Python int and y 0-d"

MULTIPLY_OPERANDS = [
    ("same shapes", normal(31, (3, 4)), normal(32, (3, 4))),
    ("y broadcast along rows", normal(33, (3, 4)), normal(34, (4,))),
    ("both broadcast", normal(35, (3, 1)), normal(36, (1, 4))),
    ("x broadcast from a column", normal(37, (2, 3, 1)), normal(38, (3, 5))),
    ("0-d arrays", normal(39, ()), normal(40, ())),
]


def with_out_for_other(position: int) -> dict[str, Any]:
    """grad_out * out in place of grad_out * (the other operand): out = x * y is not the other operand."""
    other = "y" if position == 0 else "x"
    return {
        f"from grad_out * out: the derivative of x * y with respect to {'xy'[position]} is {other}, not out (used out where {other} was meant)": lambda g, out, x, y: (
            sum_to_shape(np.broadcast_to(g * out, np.shape(out)), np.shape((x, y)[position]))
        ),
    }


for label, x, y in MULTIPLY_OPERANDS:
    for position, function in enumerate(("multiply_back0", "multiply_back1")):
        backward_case(
            "1.3",
            f"{function}, {label}",
            module=MODULE,
            function=function,
            forward=np.multiply,
            args=[x, y],
            wrt=position,
            seed=41 + position,
            mistakes=with_out_for_other(position),
        )

# A Python number for the other operand: (case name, x and y, wrt, grad_out's input number).
SCALAR_OPERANDS = [
    ("multiply_back0 with y a Python float", [normal(42, (2, 3)), 2.5], 0, 43),
    ("multiply_back1 with x a Python float", [-1.5, normal(44, (4,))], 1, 45),
    ("multiply_back0 with y a Python int", [normal(46, (3, 2)), 3], 0, 47),
    ("multiply_back1 with x a Python int and y 0-d", [-2, normal(48, ())], 1, 49),
]

for name, operands, position, number in SCALAR_OPERANDS:
    backward_case(
        "1.3",
        name,
        module=MODULE,
        function=f"multiply_back{position}",
        forward=np.multiply,
        args=operands,
        wrt=position,
        seed=number,
    )


# 1.4 forward_and_back --------------------------------------------------------

# Promises of forward_and_back's docstring, and the cases that check them:
# - g = log(a * b * log(c)), dL/dg = 1: "forward_and_back on inputs of shape (3,)",
#   "forward_and_back on inputs of shape (2, 3)", "forward_and_back on inputs of shape ()"
# - returns (dg/da, dg/db, dg/dc), each shaped like its input: the same three cases


def g_of(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.log(a * b * np.log(c))


def f_of(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return a * b * np.log(c)


def forward_and_back_mistakes(inputs: list[np.ndarray], right: list[np.ndarray], position: int) -> dict[str, Any]:
    """Known wrong answers for dg/d(inputs[position]): {description: the answer, or a function computing it}."""
    name = "abc"[position]
    ones = np.ones(inputs[0].shape)
    a, b, c = (value.astype(np.float64) for value in inputs)
    # Another input's gradient: out of order.
    mistakes: dict[str, Any] = {
        f"for {other} instead of {name}: the gradients are out of order (return dg/da, dg/db, dg/dc)": right[index]
        for index, other in enumerate("abc")
        if index != position
    }
    # log_back(grad, out, x) given g = log(f) where f belongs: 1/g in place of 1/f.
    mistakes["with 1/g in place of 1/f at the last step: log_back was given g (out) where f (x) was meant"] = lambda: (
        numerical_vjp(f_of, inputs, position, ones) / g_of(a, b, c)
    )
    mistakes["for f = a * b * log(c): the chain rule through the last log (g = log f) is missing"] = lambda: (
        numerical_vjp(f_of, inputs, position, ones)
    )
    if name == "c":
        # log's local derivative alone: a missing chain-rule factor.
        mistakes["from 1/c alone: a missing chain-rule factor (multiply by the gradient that reaches e)"] = 1 / c
        mistakes["without the factor d = a * b: the gradient reaching e from f = d * e is dg/df * d"] = (
            1 / (a * b * np.log(c)) / c
        )
    return mistakes


THREE_GRADIENTS = "a tuple of three arrays (dg/da, dg/db, dg/dc)"


def forward_and_back_case(number: int, shape: tuple[int, ...]) -> None:
    """Inputs drawn from the numbers number, number + 1 and number + 2."""
    a = uniform(number, shape, 0.5, 2.0)
    b = uniform(number + 1, shape, 0.5, 2.0)
    c = uniform(number + 2, shape, 1.5, 4.0)

    @probe("1.4", f"forward_and_back on inputs of shape {shape}")
    def forward_and_back(student: Any) -> dict[str, Any]:
        inputs = copies([a, b, c])
        result = student.part1_backward.forward_and_back(*inputs)
        # A stacked array of shape (3, *shape) unpacks like a tuple of three.
        stacked = isinstance(result, np.ndarray) and result.shape == (3, *shape)
        if (isinstance(result, (tuple, list)) and len(result) == 3) or stacked:
            gradients = [returned(item) for item in result]
        else:
            gradients = returned(result)
        return {"gradients": gradients, "mutated": changed_inputs([a, b, c], inputs, "abc")}

    @forward_and_back.judge
    def judge_forward_and_back(observation: dict[str, Any]) -> None:
        expect_untouched(observation, "forward_and_back")
        gradients = observation["gradients"]
        if not isinstance(gradients, list):
            expect_returned(gradients, "forward_and_back", THREE_GRADIENTS)
            raise CaseFailure(
                f"forward_and_back returned a {gradients.get('type')}; it should return {THREE_GRADIENTS}."
            )
        right = [numerical_vjp(g_of, [a, b, c], position, np.ones(shape)) for position in range(3)]
        for position, name in enumerate("abc"):
            expect_array(
                gradients[position],
                right[position],
                what=f"dg/d{name} from forward_and_back on shape {shape}",
                mistakes=forward_and_back_mistakes([a, b, c], right, position),
            )


forward_and_back_case(51, (3,))
forward_and_back_case(54, (2, 3))
forward_and_back_case(57, ())
