"""Hidden suite for Part 3: more operations.

Backward functions are called directly on float32 arrays and compared with
float64 central differences of the forward NumPy function; they never touch
Tensors, so they are graded even when Part 2 does not work yet. `relu`,
`argmax`, `add_` and `sub_` run through the student's own framework (core's
Tensor, their functional.py and backprop), so those need Part 2.

Mistakes these cases are built to catch:
- negative_back: returning grad_out (sign), -out or -x (forgot grad_out).
- exp_back: grad_out * x, exp(out), forgetting grad_out.
- reshape_back: reshaping to new_shape or out's shape, transposing instead of
  reshaping, returning grad_out as it is.
- invert_transposition: returning axes itself (true only for self-inverse
  permutations: 3-cycles expose it), reversing it.
- permute_back: transposing by axes instead of its inverse, mishandling
  negative axes (.T uses (-1, -2)) or mixed-sign axes (np.argsort of the raw
  axes), failing on axes=None or with axes left out.
- _expand: -1 matched to the wrong dim when new dims are prepended, failing
  on new leading dims, passing -1 to NumPy.
- expand_back: no unbroadcast, mean instead of sum, summing without keepdims.
- sum_back: ignoring keepdim (both ways), a default of keepdim=True,
  failing on negative or tuple dims,
  broadcasting without reinserting the summed dims, scaling by the count.
- coerce_index: only handling a Tensor at the top level (not inside a
  tuple), returning a list for a tuple, converting ints or slices, casting
  a boolean mask to integers.
- getitem_back: assigning instead of accumulating at repeated indices,
  returning grad_out, zeros of out's shape, not coercing Tensors in tuples.
- add/subtract/true_divide backward: no unbroadcast (either side), sign
  errors, forgetting x in d(x/y)/dy, failing on a Python scalar operand.
- maximum_back0/1: ties given to both sides or to neither (the shares must
  add up to grad_out), no unbroadcast, gradient to the wrong side.
  relu: a result that does not require grad (or requires it with no
  recipe), mutating x, a subgradient outside [0, 1] at 0.
- _matmul2d and its backward: elementwise product, wrong order, missing or
  misplaced transposes (non-square shapes and a square case; a product
  whose shapes cannot line up is named with the transpose it lacks).
- argmax: a result that requires grad or has a recipe, ignoring keepdim, a
  default of keepdim=True, not flattening for dim=None, returning an array
  instead of a Tensor.
- add_/sub_: replacing x.array by a new array, ignoring alpha, the wrong
  sign, returning a new Tensor instead of changing x, recording a recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..cases import CaseFailure, probe
from ..numeric import ATOL, RTOL, array_of, expect_array, numerical_vjp, returned_none
from ..observe import attempt, returned
from ..seeds import rng
from .common import (
    as_array,
    backward_case,
    call_case,
    expect_returned,
    expect_untouched,
    float32,
    input_number,
    matches,
    normal,
    observe_call,
    sum_to_shape,
)

MODULE = "part3_ops"

# Every input is drawn from the input named "<the case's name>: <the argument>"
# (common.input_number), so that no case's inputs depend on another's.


def away_from_zero(name: str, shape: tuple[int, ...], low: float = 0.5, high: float = 2.0) -> np.ndarray:
    """Random values with random signs and |value| in [low, high]: safe divisors."""
    source = rng(input_number(name))
    return float32(source.uniform(low, high, size=shape) * source.choice([-1.0, 1.0], size=shape))


def describe(value: Any) -> str:
    return f"shape {np.shape(value)}" if isinstance(value, np.ndarray) else f"the number {value}"


def grad_case(
    exercise: str,
    name: str,
    *,
    function: str,
    forward: Callable[..., Any],
    args: Sequence[Any],
    wrt: int,
    kwargs: dict[str, Any] | None = None,
    arg_names: Sequence[str] = ("x", "y"),
    mistakes: dict[str, Callable[..., Any]] | None = None,
    broadcasting: bool = True,
    wrap_judge: Callable[[Callable[[Any], None], np.ndarray], Callable[[Any], None]] | None = None,
    explain_error: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """common.backward_case, with grad_out drawn from the case's name.

    mistakes: known wrong formulas, {description: wrong_backward}, where
    wrong_backward takes the backward function's arguments and the
    description completes "It matches what you get ...".
    broadcasting: False for operations that do not broadcast.
    wrap_judge: (judge, grad_out) -> a judge that looks for a mistake of its
    own first, then calls judge.
    """
    kwargs = dict(kwargs or {})
    out = np.asarray(forward(*args, **kwargs))
    grad_out = normal(f"{name}: grad_out", out.shape)
    case = backward_case(
        exercise,
        name,
        module=MODULE,
        function=function,
        forward=forward,
        args=args,
        wrt=wrt,
        grad_out=grad_out,
        kwargs=kwargs,
        arg_names=arg_names,
        mistakes=mistakes,
        broadcasting=broadcasting,
        explain_error=explain_error,
    )
    if not broadcasting:
        case.run_judge = shaped_like_out_first(case.run_judge, function, out.shape, np.shape(args[wrt]))
    if wrap_judge is not None:
        case.run_judge = wrap_judge(case.run_judge, grad_out)


def shaped_like_out_first(
    judge: Callable[[Any], None], function: str, out_shape: tuple[int, ...], x_shape: tuple[int, ...]
) -> Callable[[Any], None]:
    """A judge that first recognises a gradient left in out's shape.

    For an operation that moves or gathers entries (reshape, transpose, sum,
    indexing), a result shaped like grad_out means the backward step was
    skipped; the shape heuristics of numeric would guess other causes.
    """

    def judged(observation: dict[str, Any]) -> None:
        result = observation.get("result") if isinstance(observation, dict) else None
        shape = tuple(result.get("shape") or ()) if isinstance(result, dict) and "values" in result else None
        if shape is not None and shape == tuple(out_shape) != tuple(x_shape):
            raise CaseFailure(
                f"{name_of(function)} returned an array of shape {shape}, the shape of grad_out, "
                f"but the gradient is for x, of shape {tuple(x_shape)}. Did you return grad_out without undoing the forward step?",
                mistake="grad_out returned without undoing the forward step",
                size=int(np.prod(x_shape, dtype=np.int64)),
            )
        judge(observation)

    return judged


def name_of(function: str) -> str:
    return f"{function}(grad_out, out, ...)"


# 3.1 negative_back and exp_back ----------------------------------------------

# Promises of negative_back and exp_back's docstrings, and the cases that check them:
# - negative_back: dL/dx = -grad_out, shaped like x: "negative_back on x of shape (3, 4)",
#   "negative_back on x of shape (5,)", "negative_back on x of shape ()", "negative_back on x of shape (2, 1, 3)"
# - exp_back: dL/dx = grad_out * out, shaped like x: "exp_back on x of shape (3, 4)", "exp_back on x of shape (5,)",
#   "exp_back on x of shape ()", "exp_back on x of shape (2, 1, 3)"

# (function, forward, known wrong formulas)
ELEMENTWISE = [
    (
        "negative_back",
        np.negative,
        {
            "from -x: the upstream gradient grad_out is missing": lambda g, out, x: -x,
            "from -out: out is the forward result; the gradient is -grad_out": lambda g, out, x: -out,
        },
    ),
    (
        "exp_back",
        np.exp,
        {
            "from grad_out * x: the derivative of exp(x) is exp(x), which is `out`": lambda g, out, x: g * x,
        },
    ),
]

for function, forward, mistakes in ELEMENTWISE:
    for shape in [(3, 4), (5,), (), (2, 1, 3)]:
        name = f"{function} on x of shape {shape}"
        grad_case(
            "3.1",
            name,
            function=function,
            forward=forward,
            args=[normal(f"{name}: x", shape)],
            wrt=0,
            mistakes=mistakes,
        )


# 3.2 reshape_back ------------------------------------------------------------

# Promises of reshape_back's docstring, and the cases that check them:
# - grad_out reshaped back to x.shape (C order): "reshape_back from (3, 4) to (2, 6)",
#   "reshape_back from (2, 6) to (3, 4)", "reshape_back from (2, 3, 4) to (24,)"
# - a -1 in new_shape worked out: "reshape_back from (2, 3, 4) to (6, -1)"
# - 0-d x and size-1 dims: "reshape_back from () to (1,)", "reshape_back from (5,) to (1, 5, 1)"

# (x's shape, new_shape). No new_shape is x's shape reversed: a student who
# returns grad_out unchanged must not be told it looks transposed.
RESHAPE_MISTAKES = {
    "by transposing grad_out: reshape keeps the entries in C order, so only reshape grad_out to x.shape": lambda g, out, x, s: (
        np.reshape(g.T, x.shape)
    ),
    "by reshaping in Fortran order: use NumPy's default C order, as the forward reshape did": lambda g, out, x, s: (
        np.reshape(g, x.shape, order="F")
    ),
}

for shape, new_shape in [
    ((3, 4), (2, 6)),
    ((2, 3, 4), (6, -1)),
    ((2, 3, 4), (24,)),
    ((5,), (1, 5, 1)),
    ((), (1,)),
    ((2, 6), (3, 4)),
]:
    name = f"reshape_back from {shape} to {new_shape}"
    grad_case(
        "3.2",
        name,
        function="reshape_back",
        forward=np.reshape,
        args=[normal(f"{name}: x", shape), new_shape],
        wrt=0,
        arg_names=("x", "new_shape"),
        mistakes=RESHAPE_MISTAKES,
        broadcasting=False,
    )


# 3.3 invert_transposition and permute_back -------------------------------------

# Promises of invert_transposition and permute_back's docstrings, and the cases that check them:
# - invert_transposition: inverse[axes[i]] = i: all its cases, "invert_transposition(0,)" to
#   "invert_transposition(4, 2, 0, 1, 3)"
# - invert_transposition: for 3-cycles the inverse is not axes itself: "invert_transposition(1, 2, 0)",
#   "invert_transposition(2, 0, 1)"
# - invert_transposition: a tuple of ints (a list accepted) of the same length: all its cases
# - permute_back: grad_out transposed by the inverse permutation: "permute_back with axes=(1, 0) on x of shape (2, 3)",
#   "permute_back with axes=(1, 2, 0) on x of shape (2, 3, 4)",
#   "permute_back with axes=(2, 0, 1) on x of shape (2, 3, 4)",
#   "permute_back with axes=(0, 2, 1) on x of shape (2, 3, 4)",
#   "permute_back with axes=(3, 0, 2, 1) on x of shape (2, 3, 4, 5)"
# - permute_back: axes may hold negative dims: "permute_back with axes=(-1, -2) on x of shape (2, 3)",
#   "permute_back with axes=(-2, -1, -3) on x of shape (2, 3, 4)",
#   "permute_back with axes=(0, -1, 1) on x of shape (2, 3, 4)",
#   "permute_back with axes=(-1, 0, 2, -3) on x of shape (2, 3, 4, 5)"
# - permute_back: axes None reverses all dims: "permute_back with axes=None on x of shape (2, 3, 4)",
#   "permute_back with axes left out on x of shape (3, 2, 4)"


def inverse_of(axes: tuple[int, ...]) -> list[int]:
    """The permutation that undoes `axes` (non-negative): where each dim stands in `axes`.

    Written apart from the reference solution's loop: this file is in every
    student's kit (tests/test_release.py looks for answers in it).
    """
    return [list(axes).index(dim) for dim in range(len(axes))]


def invert_case(axes: tuple[int, ...]) -> None:
    @probe("3.3", f"invert_transposition{axes}")
    def case(student: Any) -> dict[str, Any]:
        return returned(student.part3_ops.invert_transposition(tuple(axes)))

    @case.judge
    def judge_invert(observation: dict[str, Any]) -> None:
        what = f"invert_transposition({axes})"
        expected = inverse_of(axes)
        expect_returned(observation, what, f"a tuple of {len(axes)} ints")
        values = observation.get("values")
        if values is None or np.shape(values) != (len(axes),):
            raise CaseFailure(
                f"{what} returned {observation.get('repr', observation.get('type'))}; it should return a tuple of {len(axes)} ints, here {tuple(expected)}."
            )
        got = [float(v) for v in np.asarray(values).ravel()]
        if got != [float(v) for v in expected]:
            shown = tuple(int(v) if float(v).is_integer() else v for v in got)
            message = f"{what} returned {shown}, but the inverse is {tuple(expected)}: the inverse q satisfies q[axes[i]] = i."
            if got == [float(v) for v in axes]:
                raise CaseFailure(
                    message + " You returned axes itself, which is right only when the permutation undoes itself "
                    "(like a swap of two dims); a 3-cycle does not.",
                    mistake="axes itself, not its inverse",
                )
            if len(axes) > 2 and got == [float(v) for v in reversed(axes)]:
                raise CaseFailure(message + " You returned axes reversed.", mistake="axes reversed, not inverted")
            raise CaseFailure(message, mistake="not the inverse permutation")


for axes in [(0,), (1, 0), (0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (3, 0, 2, 1), (1, 3, 0, 2), (4, 2, 0, 1, 3)]:
    invert_case(axes)


def transpose_forward(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.transpose(x, axes)


def argsort_of_raw_axes_first(
    judge: Callable[[Any], None], grad_out: np.ndarray, axes: tuple[int, ...], shape: tuple[int, ...]
) -> Callable[[Any], None]:
    """A judge that first recognises np.argsort(axes) taken with negative axes as given.

    argsort orders -1 before 0, so with mixed signs it is not the inverse
    permutation (its result may not even have x's shape).
    """
    wrong = np.transpose(grad_out.astype(np.float64), np.argsort(axes))
    right = np.transpose(grad_out.astype(np.float64), inverse_of(tuple(axis % len(shape) for axis in axes)))

    def judged(observation: dict[str, Any]) -> None:
        result = observation.get("result") if isinstance(observation, dict) else None
        if isinstance(result, dict) and matches(result, wrong) and not matches(wrong, right):
            raise CaseFailure(
                f"permute_back(grad_out, out, x, axes={axes}) with x of shape {shape} matches grad_out transposed by "
                f"np.argsort(axes) = {tuple(int(a) for a in np.argsort(axes))}"
                + (f", which has shape {wrong.shape}, not x's {shape}. " if wrong.shape != tuple(shape) else ". ")
                + "argsort puts -1 before 0, so with negative and non-negative axes mixed it is not the inverse "
                f"permutation. Normalise negative axes first (axis % x.ndim: here {tuple(axis % len(shape) for axis in axes)}), "
                "then invert.",
                mistake="np.argsort of axes with negative and non-negative dims mixed",
                size=int(np.prod(shape, dtype=np.int64)),
            )
        judge(observation)

    return judged


for shape, axes in [
    ((2, 3), (1, 0)),
    ((2, 3, 4), (1, 2, 0)),
    ((2, 3, 4), (2, 0, 1)),
    ((2, 3, 4), (0, 2, 1)),
    ((2, 3, 4, 5), (3, 0, 2, 1)),
    ((2, 3), (-1, -2)),
    ((2, 3, 4), (-2, -1, -3)),
    # Mixed signs: the docstring allows negative dims, not only all-negative
    # tuples. np.argsort(axes) on the raw axes is wrong here.
    ((2, 3, 4), (0, -1, 1)),
    ((2, 3, 4, 5), (-1, 0, 2, -3)),
    ((2, 3, 4), None),
]:
    mixed = axes is not None and any(axis < 0 for axis in axes) and any(axis >= 0 for axis in axes)
    name = f"permute_back with axes={axes} on x of shape {shape}"
    grad_case(
        "3.3",
        name,
        function="permute_back",
        forward=transpose_forward,
        args=[normal(f"{name}: x", shape)],
        wrt=0,
        kwargs={"axes": axes},
        mistakes={
            "by transposing grad_out by axes itself: it must be transposed by the inverse permutation": lambda g, out, x, axes: (
                np.transpose(g, axes)
            ),
        },
        broadcasting=False,
        wrap_judge=(
            lambda judge, grad_out, axes=axes, shape=shape: argsort_of_raw_axes_first(judge, grad_out, axes, shape)
        )
        if mixed
        else None,
    )

# axes left out: its default, None, reverses all dims, as np.transpose does.
grad_case(
    "3.3",
    "permute_back with axes left out on x of shape (3, 2, 4)",
    function="permute_back",
    forward=np.transpose,
    args=[normal("permute_back with axes left out: x", (3, 2, 4))],
    wrt=0,
    broadcasting=False,
)


# 3.4 _expand and expand_back ------------------------------------------------

# Promises of _expand and expand_back's docstrings, and the cases that check them:
# - _expand: the extra dims come first and are new: "_expand from (4,) to (2, 3, 4)", "_expand from () to (2, 3)"
# - _expand: a -1 keeps the dim of x it lines up with (from the right): "_expand from (3, 1) to (-1, 4)",
#   "_expand from (3, 1) to (2, -1, 4)", "_expand from (4,) to (2, 3, -1)", "_expand from (2, 1, 3) to (2, -1, 4, -1)",
#   "_expand from (3, 4) to (-1, -1)"
# - _expand: size-1 dims of x stretch: "_expand from (3, 1) to (3, 4)", "_expand from (1, 1) to (5, -1)"
# - expand_back: the copies' gradients summed, unbroadcast to x.shape: all nine expand_back cases, one per _expand
#   pattern


def expanded_shape(shape: tuple[int, ...], new_shape: tuple[int, ...]) -> tuple[int, ...]:
    new_dims = len(new_shape) - len(shape)
    return tuple(new_shape[:new_dims]) + tuple(
        shape[dim] if size == -1 else size for dim, size in enumerate(new_shape[new_dims:])
    )


def expand_forward(x: np.ndarray, new_shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(x, expanded_shape(x.shape, new_shape))


EXPAND_PATTERNS = [
    ((3, 1), (3, 4)),
    ((3, 1), (-1, 4)),
    ((4,), (2, 3, 4)),
    ((3, 1), (2, -1, 4)),
    ((4,), (2, 3, -1)),
    ((2, 1, 3), (2, -1, 4, -1)),
    ((), (2, 3)),
    ((1, 1), (5, -1)),
    ((3, 4), (-1, -1)),
]


def expect_minus_one_lined_up(what: str, shape: tuple[int, ...], new_shape: tuple[int, ...]) -> Callable[[Any], None]:
    """A check of _expand's result: the shape it has when each -1 was matched from the left."""
    expected_shape = expanded_shape(shape, new_shape)

    def check(result: Any) -> None:
        got_shape = tuple(result.get("shape") or ())
        if result.get("values") is not None and got_shape != expected_shape and -1 in new_shape:
            raise CaseFailure(
                f"{what} has shape {got_shape}, but it should have shape {expected_shape}. "
                "Each -1 keeps the size of the dim of x it lines up with, counting from the right: "
                "new dims are added in front.",
                mistake="-1 not lined up from the right",
            )

    return check


for shape, new_shape in EXPAND_PATTERNS:
    name = f"_expand from {shape} to {new_shape}"
    x = normal(f"{name}: x", shape)
    what = f"_expand(x of shape {shape}, {new_shape})"
    call_case(
        "3.4",
        name,
        module=MODULE,
        function="_expand",
        args=[x, new_shape],
        arg_names=["x", "new_shape"],
        expected=lambda x=x, new_shape=new_shape: expand_forward(x, new_shape),
        what=what,
        check_first=expect_minus_one_lined_up(what, shape, new_shape),
    )

for shape, new_shape in EXPAND_PATTERNS:
    name = f"expand_back from {shape} to {new_shape}"
    grad_case(
        "3.4",
        name,
        function="expand_back",
        forward=expand_forward,
        args=[normal(f"{name}: x", shape), new_shape],
        wrt=0,
        arg_names=("x", "new_shape"),
    )


# 3.5 sum_back ------------------------------------------------------------------

# Promises of sum_back's docstring, and the cases that check them:
# - grad_out copied back along the summed dims: all cases
# - dim None, an int, a negative int or a tuple, keepdim False or True: the 16 cases on x of shape (3, 4, 5) and (2, 3),
#   e.g. "sum_back with dim=-2, keepdim=False on x of shape (3, 4, 5)",
#   "sum_back with dim=(-1, 0), keepdim=True on x of shape (3, 4, 5)"
# - keepdim False, so the summed dims are missing from grad_out: every case with keepdim=False
# - defaults dim=None, keepdim=False: "sum_back with dim and keepdim left out on x of shape (3, 4)",
#   "sum_back with dim=1 and keepdim left out on x of shape (3, 4, 2)"
# - 0-d and size-1 x: "sum_back with dim=None, keepdim=False on x of shape ()",
#   "sum_back with dim=None, keepdim=True on x of shape ()", "sum_back with dim=0, keepdim=False on x of shape (4, 1)",
#   "sum_back with dim=0, keepdim=True on x of shape (4, 1)", "sum_back with dim=0, keepdim=False on x of shape (6,)",
#   "sum_back with dim=0, keepdim=True on x of shape (6,)"


def sum_forward(x: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
    return np.sum(x, axis=dim, keepdims=keepdim)


def scaled_sum_back(
    g: np.ndarray, out: np.ndarray, x: np.ndarray, dim: Any = None, keepdim: bool = False
) -> np.ndarray:
    dims = tuple(range(x.ndim)) if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(d % x.ndim for d in dims)
    kept = g if keepdim else np.expand_dims(g, dims)
    return np.broadcast_to(kept, x.shape) / np.prod([x.shape[d] for d in dims])


SUM_MISTAKES = {"for a mean: each x entry was added once with weight 1, so it gets grad_out unscaled": scaled_sum_back}

for shape, dim in [
    ((3, 4, 5), None),
    ((3, 4, 5), 0),
    ((3, 4, 5), 1),
    ((3, 4, 5), -1),
    ((3, 4, 5), -2),
    ((3, 4, 5), (0, 2)),
    ((3, 4, 5), (-1, 0)),
    ((2, 3), (0, 1)),
    ((4, 1), 0),
    ((6,), 0),
    ((), None),
]:
    for keepdim in (False, True):
        name = f"sum_back with dim={dim}, keepdim={keepdim} on x of shape {shape}"
        grad_case(
            "3.5",
            name,
            function="sum_back",
            forward=sum_forward,
            args=[normal(f"{name}: x", shape)],
            wrt=0,
            kwargs={"dim": dim, "keepdim": keepdim},
            mistakes=SUM_MISTAKES,
            broadcasting=False,
        )


# The defaults, left out: dim=None sums everything, keepdim=False drops the summed dims.
for name, shape, kwargs in [
    ("sum_back with dim and keepdim left out on x of shape (3, 4)", (3, 4), {}),
    ("sum_back with dim=1 and keepdim left out on x of shape (3, 4, 2)", (3, 4, 2), {"dim": 1}),
]:
    grad_case(
        "3.5",
        name,
        function="sum_back",
        forward=sum_forward,
        args=[normal(f"{name}: x", shape)],
        wrt=0,
        kwargs=kwargs,
        mistakes=SUM_MISTAKES,
        broadcasting=False,
    )


# 3.6 coerce_index and getitem_back -------------------------------------------
#
# An index is written here as plain data in which AsTensor(array) stands for
# a Tensor holding that array; the probe builds the real Tensors with the
# (given) core.Tensor.

# Promises of coerce_index and getitem_back's docstrings, and the cases that check them:
# - coerce_index: a Tensor at the top level becomes its array: "coerce_index(Tensor([2, 0, 2]))",
#   "coerce_index(Tensor([True, False, True]))"
# - coerce_index: Tensors inside a tuple become arrays, in tuples that mix them with ints, slices, None, ...:
#   "coerce_index((Tensor([0, 1, 1]), Tensor([2, 2, 0])))", "coerce_index((0, Tensor([3, 1])))",
#   "coerce_index((..., None, Tensor([1])))", "coerce_index((1:, Tensor([1, 0])))"
# - coerce_index: everything else is left as it is: "coerce_index(3)", "coerce_index(:2)",
#   "coerce_index(array([1, 1, 0]))", "coerce_index((1, 0:3:2))"
# - getitem_back: zero where x was not read, grad_out where read once:
#   "getitem_back with x of shape (4, 3) and index 2", "getitem_back with x of shape (4, 3) and index -1",
#   "getitem_back with x of shape (4, 3) and index 1:3", "getitem_back with x of shape (4, 3) and index (::2, 1)",
#   "getitem_back with x of shape (3, 4, 2) and index (..., 0)",
#   "getitem_back with x of shape (4, 3) and index array([True, False, True, True])"
# - getitem_back: an entry read more than once gets the sum (np.add.at):
#   "getitem_back with x of shape (4, 3) and index array([0, 2, 0, 0])",
#   "getitem_back with x of shape (4, 3) and index [3, 1, 3]",
#   "getitem_back with x of shape (4, 3) and index (array([0, 1, 1, 3]), array([2, 2, 2, 0]))",
#   "getitem_back with x of shape (4, 3) and index (:, array([1, 1, 0]))",
#   "getitem_back with x of shape (4, 3) and index array([[0, 1], [1, 1]])",
#   "getitem_back with x of shape (3, 4, 2) and index (array([0, 0, 2]), 1:3, 1)",
#   "getitem_back with x of shape (4, 3) and index Tensor([1, 1, 2])"
# - getitem_back: Tensors in the index (through coerce_index):
#   "getitem_back with x of shape (4, 3) and index Tensor([1, 1, 2])",
#   "getitem_back with x of shape (4, 3) and index (Tensor([0, 1, 2, 2]), Tensor([2, 0, 1, 1]))",
#   "getitem_back with x of shape (4, 3) and index Tensor([True, False, True, True])"


class AsTensor:
    """In an index spec: a Tensor holding `values`, made in the child."""

    def __init__(self, values: Any):
        self.values = np.asarray(values)


def tensor_of(values: Any) -> AsTensor:
    return AsTensor(values)


def is_tensor_spec(part: Any) -> bool:
    return isinstance(part, AsTensor)


def build_index(spec: Any, make_tensor: Callable[[np.ndarray], Any]) -> Any:
    """The real index: Tensors for AsTensor parts, fresh copies of arrays."""
    if is_tensor_spec(spec):
        return make_tensor(spec.values.copy())
    if isinstance(spec, tuple):
        return tuple(build_index(part, make_tensor) for part in spec)
    if isinstance(spec, np.ndarray):
        return spec.copy()
    if isinstance(spec, list):
        return list(spec)
    return spec


def plain_index(spec: Any) -> Any:
    """The index NumPy understands: Tensors replaced by their arrays."""
    return build_index(spec, lambda array: array)


def show_index(spec: Any) -> str:
    if is_tensor_spec(spec):
        return f"Tensor({spec.values.tolist()})"
    if isinstance(spec, tuple):
        return "(" + ", ".join(show_index(part) for part in spec) + ("," if len(spec) == 1 else "") + ")"
    if isinstance(spec, np.ndarray):
        return f"array({spec.tolist()})"
    if isinstance(spec, slice):  # as Python writes it: "1:", ":2", ":", "0:4:2"
        bounds = f"{'' if spec.start is None else spec.start}:{'' if spec.stop is None else spec.stop}"
        return bounds if spec.step is None else f"{bounds}:{spec.step}"
    if spec is Ellipsis:
        return "..."
    return repr(spec)


def index_parts(value: Any, tensor_type: type) -> Any:
    """Probe side: what coerce_index returned, as plain data."""
    if isinstance(value, tuple):
        return {"kind": "tuple", "items": [index_parts(part, tensor_type) for part in value]}
    if isinstance(value, list):
        try:
            values = np.array(value)
        except Exception:
            return {"kind": "list", "repr": repr(value)[:200]}
        return {"kind": "list", "values": values, "dtype": values.dtype.kind}
    if isinstance(value, tensor_type):
        return {"kind": "Tensor"}
    if isinstance(value, np.ndarray):
        return {"kind": "array", "values": np.array(value, copy=True), "dtype": value.dtype.kind}
    if isinstance(value, slice):
        return {"kind": "slice", "parts": [index_parts(v, tensor_type) for v in (value.start, value.stop, value.step)]}
    if value is None:
        return {"kind": "None"}
    if value is Ellipsis:
        return {"kind": "Ellipsis"}
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return {"kind": "int", "value": int(value)}
    return {"kind": type(value).__name__, "repr": repr(value)[:200]}


def index_mismatch(got: Any, spec: Any) -> str:
    """'' if coerce_index's result `got` is right for `spec`, else what is wrong."""
    kind = got.get("kind") if isinstance(got, dict) else None
    if is_tensor_spec(spec) or isinstance(spec, np.ndarray):
        expected = spec.values if is_tensor_spec(spec) else spec
        if kind == "Tensor":
            return f"the Tensor {show_index(spec)} is still a Tensor; it should become its array"
        # A list of the same integers (or booleans) indexes just like the array.
        if kind not in ("array", "list") or "values" not in got:
            return f"{show_index(spec)} became a {kind}, not an array"
        values = np.asarray(got["values"])
        if (expected.dtype.kind == "b") != (got.get("dtype") == "b") and values.shape == expected.shape:
            if expected.dtype.kind == "b":
                became = {"i": "integers", "u": "integers", "f": "floats"}.get(got.get("dtype"), "numbers")
                return (
                    f"the boolean mask {show_index(spec)} became {became}; keep it boolean "
                    "(as numbers, True and False pick the entries at positions 1 and 0 instead of masking)"
                )
            return f"the integer index {show_index(spec)} became a boolean array; keep its integers"
        if (
            got.get("dtype") not in ("i", "u", "b")
            or values.shape != expected.shape
            or not np.array_equal(values, expected)
        ):
            return f"{show_index(spec)} became an array of other values or type ({got.get('dtype')!s} kind, shape {values.shape})"
        return ""
    if isinstance(spec, tuple):
        if kind != "tuple":
            extra = " NumPy reads a list index as one array, not as one index per dim." if kind == "list" else ""
            return f"the tuple {show_index(spec)} became a {kind}; it must stay a tuple.{extra}"
        if len(got["items"]) != len(spec):
            return f"the tuple {show_index(spec)} became a tuple of {len(got['items'])} items"
        for item, part in zip(got["items"], spec):
            problem = index_mismatch(item, part)
            if problem:
                return problem
        return ""
    if isinstance(spec, slice):
        expected = [spec.start, spec.stop, spec.step]
        parts = got.get("parts") if kind == "slice" else None
        if not parts or [p.get("value") if p.get("kind") == "int" else None for p in parts] != expected:
            return f"the slice {show_index(spec)} was changed; leave it as it is"
        return ""
    if spec is None:
        return "" if kind == "None" else f"None became a {kind}"
    if spec is Ellipsis:
        return "" if kind == "Ellipsis" else f"... became a {kind}"
    if isinstance(spec, int):
        # A 0-d integer array indexes exactly like the int.
        same_array = (
            kind == "array"
            and got.get("dtype") in ("i", "u")
            and np.shape(got.get("values")) == ()
            and int(got["values"]) == spec
        )
        return (
            ""
            if (kind == "int" and got.get("value") == spec) or same_array
            else f"the int {spec} was changed; leave it as it is"
        )
    if isinstance(spec, list):
        return "" if kind in ("list", "array") else f"the list {spec} became a {kind}"
    return ""


def coerce_case(spec: Any) -> None:
    @probe("3.6", f"coerce_index({show_index(spec)})")
    def case(student: Any) -> Any:
        tensor_type = student.core.Tensor
        result = student.part3_ops.coerce_index(build_index(spec, tensor_type))
        return index_parts(result, tensor_type)

    @case.judge
    def judge_coerce(observation: Any) -> None:
        what = f"coerce_index({show_index(spec)})"
        if spec is not None and isinstance(observation, dict) and observation.get("kind") == "None":
            raise CaseFailure(returned_none(what))
        problem = index_mismatch(observation, spec)
        if problem:
            raise CaseFailure(f"{what}: {problem}.", mistake="an index part converted wrongly")


for spec in [
    tensor_of([2, 0, 2]),
    (tensor_of([0, 1, 1]), tensor_of([2, 2, 0])),
    (slice(1, None), tensor_of([1, 0])),
    (0, tensor_of([3, 1])),
    (Ellipsis, None, tensor_of([1])),
    tensor_of([True, False, True]),
    3,
    slice(None, 2),
    np.array([1, 1, 0]),
    (1, slice(0, 3, 2)),
]:
    coerce_case(spec)


def assigned_getitem_back(g: np.ndarray, out: np.ndarray, x: np.ndarray, index: Any) -> np.ndarray:
    grad = np.zeros_like(x)
    grad[index] = g
    return grad


def getitem_case(shape: tuple[int, ...], spec: Any) -> None:
    name = f"getitem_back with x of shape {shape} and index {show_index(spec)}"
    x = normal(f"{name}: x", shape)
    index = plain_index(spec)
    out = np.asarray(x[index])
    grad_out = normal(f"{name}: grad_out", out.shape)
    what = f"getitem_back(grad_out, out, x, index) with x of shape {shape} and index {show_index(spec)}"

    @probe("3.6", name)
    def case(student: Any) -> dict[str, Any]:
        student_index = build_index(spec, student.core.Tensor)
        getitem_back = student.part3_ops.getitem_back
        return observe_call(
            lambda *arrays: getitem_back(*arrays, student_index), [grad_out, out, x], ["grad_out", "out", "x"]
        )

    @case.judge
    def judge_getitem(observation: dict[str, Any]) -> None:
        expect_untouched(observation, "getitem_back")
        result = observation["result"]
        if out.shape != x.shape and tuple(result.get("shape") or ()) == out.shape and "values" in result:
            raise CaseFailure(
                f"{what} has shape {out.shape}, the shape of out and grad_out, but it should have shape {x.shape}: the gradient is for x. "
                "Start from zeros shaped like x and add grad_out in at the indexed places.",
                mistake="gradient shaped like out",
            )
        expected = numerical_vjp(lambda values: values[index], [x], 0, grad_out)
        assigned = {
            "by assignment (grad[index] = grad_out): where the index picks an entry more than once, only one pick "
            "keeps its gradient (assigned instead of accumulated). Add them all up with np.add.at": lambda: (
                assigned_getitem_back(grad_out.astype(np.float64), out, x.astype(np.float64), index)
            ),
        }
        expect_array(observation["result"], expected, what=what, mistakes=assigned)


for shape, spec in [
    ((4, 3), 2),
    ((4, 3), -1),
    ((4, 3), slice(1, 3)),
    ((4, 3), (slice(None, None, 2), 1)),
    ((4, 3), np.array([0, 2, 0, 0])),
    ((4, 3), [3, 1, 3]),
    ((4, 3), (np.array([0, 1, 1, 3]), np.array([2, 2, 2, 0]))),
    ((4, 3), (slice(None), np.array([1, 1, 0]))),
    ((4, 3), np.array([[0, 1], [1, 1]])),
    ((4, 3), np.array([True, False, True, True])),
    ((3, 4, 2), (np.array([0, 0, 2]), slice(1, 3), 1)),
    ((3, 4, 2), (Ellipsis, 0)),
    ((4, 3), tensor_of([1, 1, 2])),
    ((4, 3), (tensor_of([0, 1, 2, 2]), tensor_of([2, 0, 1, 1]))),
    ((4, 3), tensor_of([True, False, True, True])),
]:
    getitem_case(shape, spec)


# 3.7 add, subtract and true_divide backward ------------------------------------

# Promises of add_back0, add_back1, subtract_back0, subtract_back1, true_divide_back0 and true_divide_back1's
#   docstrings, and the cases that check them:
# - the formula of each docstring: each function's case with the same shapes, e.g.
#   "add_back0, same shapes: x (3, 4), y (3, 4)", "true_divide_back1, same shapes: x (3, 4), y (3, 4)"
# - unbroadcast to the operand's shape: each function's cases with y broadcast along rows, y a column, x broadcast
#   into a bigger y, both broadcast and x 0-d, e.g. "subtract_back1, x broadcast into a bigger y: x (4,), y (2, 3, 4)",
#   "true_divide_back0, x 0-d: x (), y (2, 3)"
# - one operand may be a Python number (the section's comment): "add_back0 with y a Python float",
#   "add_back1 with x a Python float", "subtract_back0 with y a Python float", "subtract_back1 with x a Python float",
#   "true_divide_back0 with y a Python float", "true_divide_back1 with x a Python float"

BROADCAST_PATTERNS = [
    ("same shapes", (3, 4), (3, 4)),
    ("y broadcast along rows", (3, 4), (4,)),
    ("y a column", (3, 4), (3, 1)),
    ("x broadcast into a bigger y", (4,), (2, 3, 4)),
    ("both broadcast", (3, 1), (1, 4)),
    ("x 0-d", (), (2, 3)),
]

DIVIDE_BACK1_MISTAKES = {
    "from -grad_out * x / y: d(x/y)/dy is -x / y**2, so one power of y is missing": lambda g, out, x, y: sum_to_shape(
        np.broadcast_to(-g * x / y, out.shape), np.shape(y)
    ),
    "from -grad_out / y**2: x is missing from d(x/y)/dy = -x / y**2": lambda g, out, x, y: sum_to_shape(
        np.broadcast_to(-g / y**2, out.shape), np.shape(y)
    ),
}

ARITHMETIC = [
    ("add", np.add, False),
    ("subtract", np.subtract, False),
    ("true_divide", np.true_divide, True),
]

for operation, forward, divides in ARITHMETIC:

    def y_of(name: str, shape: tuple[int, ...], divides: bool = divides) -> np.ndarray:
        return away_from_zero(f"{name}: y", shape) if divides else normal(f"{name}: y", shape)

    for label, x_shape, y_shape in BROADCAST_PATTERNS:
        # One x and one y for both backward functions.
        operands = f"{operation}, {label}"
        x, y = normal(f"{operands}: x", x_shape), y_of(operands, y_shape)
        for position in (0, 1):
            grad_case(
                "3.7",
                f"{operation}_back{position}, {label}: x {x_shape}, y {y_shape}",
                function=f"{operation}_back{position}",
                forward=forward,
                args=[x, y],
                wrt=position,
                mistakes=DIVIDE_BACK1_MISTAKES if (divides and position == 1) else None,
            )
    name = f"{operation}_back0 with y a Python float"
    grad_case(
        "3.7", name, function=f"{operation}_back0", forward=forward, args=[normal(f"{name}: x", (2, 3)), 2.5], wrt=0
    )
    name = f"{operation}_back1 with x a Python float"
    grad_case(
        "3.7",
        name,
        function=f"{operation}_back1",
        forward=forward,
        args=[-1.5, y_of(name, (4,))],
        wrt=1,
        mistakes=DIVIDE_BACK1_MISTAKES if divides else None,
    )


# 3.8 maximum_back0/1 and relu --------------------------------------------------

# Promises of maximum_back0, maximum_back1 and relu's docstrings, and the cases that check them:
# - maximum_back0/1: where x > y all of grad_out goes to x, where x < y none: the ten cases 'maximum_back0/1 without
#   ties, ...', e.g. "maximum_back0 without ties, same shapes: x (3, 4), y (3, 4)",
#   "maximum_back1 without ties, x a Python float"
# - maximum_back0/1: at ties any split whose shares add up to grad_out (the kit gives half):
#   "maximum_back0/1 at ties, same shapes", "maximum_back0/1 at ties, y broadcast along rows",
#   "maximum_back0/1 at ties, x broadcast into y", "maximum_back0/1 at ties, y a Python float",
#   "maximum_back0/1 at ties, x a Python float", "maximum_back0/1 at ties, every entry tied"
# - maximum_back0/1: broadcasting, a number operand, the result shaped like its operand: the same cases
# - relu: built from Tensor operations, backprop goes through maximum_back0:
#   "relu on x of shape (3, 4) with some zeros", "relu on x of shape (6,)"
# - relu: at 0 any value in [0, 1]: "relu on x of shape (3, 4) with some zeros", "relu on a 0-d x at 0"
# - relu: returns a new Tensor shaped like x: all relu cases, "relu on x that does not require grad" included


# Where an x and a y of maximum sit on a grid of step 0.01: a quarter step
# in for x, three quarters for y. So an x and a y are never closer than half
# a step, whatever the draw, and neither comes near the Python floats the
# cases pair them with (0.3, -0.3, 0.5, -0.25 lie on the grid itself).
GRID_STEP = 0.01
X_OFFSET, Y_OFFSET = 0.25, 0.75


def untied(name: str, shape: tuple[int, ...], offset: float) -> np.ndarray:
    """Random values that never come within GRID_STEP / 4 of another operand's (see GRID_STEP)."""
    steps = np.round(rng(input_number(name)).normal(size=shape) / GRID_STEP)
    return float32((steps + offset) * GRID_STEP)


MAXIMUM_PATTERNS = [
    ("same shapes", (3, 4), (3, 4)),
    ("y broadcast along rows", (3, 4), (4,)),
    ("x broadcast into a bigger y", (4,), (2, 3, 4)),
    ("both broadcast", (3, 1), (1, 4)),
]

for label, x_shape, y_shape in MAXIMUM_PATTERNS:
    x, y = untied(f"maximum, {label}: x", x_shape, X_OFFSET), untied(f"maximum, {label}: y", y_shape, Y_OFFSET)
    assert np.min(np.abs(np.subtract(x, y))) > 1e-3, "a maximum case without ties has a near-tie"
    for position in (0, 1):
        grad_case(
            "3.8",
            f"maximum_back{position} without ties, {label}: x {x_shape}, y {y_shape}",
            function=f"maximum_back{position}",
            forward=np.maximum,
            args=[x, y],
            wrt=position,
        )
grad_case(
    "3.8",
    "maximum_back0 without ties, y a Python float",
    function="maximum_back0",
    forward=np.maximum,
    args=[untied("maximum, y a Python float: x", (2, 5), X_OFFSET), 0.3],
    wrt=0,
)
grad_case(
    "3.8",
    "maximum_back1 without ties, x a Python float",
    function="maximum_back1",
    forward=np.maximum,
    args=[-0.3, untied("maximum, x a Python float: y", (6,), Y_OFFSET)],
    wrt=1,
)


def with_ties(values: np.ndarray, other: np.ndarray | float, tied: np.ndarray) -> np.ndarray:
    """`values` with the entries where `tied` is True set equal to `other` there."""
    target = np.broadcast_to(np.asarray(other, dtype=np.float32), values.shape)
    return float32(np.where(tied, target, values))


def expect_exact_off_kink(result: Any, exact: np.ndarray, kink: np.ndarray, *, what: str, off: str) -> np.ndarray:
    """A gradient through a kink (relu at 0, maximum at a tie) must equal `exact` away from it; returns it as an array.

    A NaN at the kink is compared with the exact value, so that it fails as a NaN.
    """
    got = array_of(result, what=what, expected_shape=np.shape(exact))
    expect_array(result, np.where(kink & np.isfinite(got), got, exact), what=what + off)
    return got


def first_share_outside(got: np.ndarray, g: np.ndarray, kink: np.ndarray) -> tuple[int, ...] | None:
    """The first index at the kink where the gradient is not a fraction in [0, 1] of grad_out `g`, or None.

    There any such fraction is a valid subgradient; NaN never is.
    """
    slack = ATOL + RTOL * np.abs(g)
    bad = kink & ((got < np.minimum(0.0, g) - slack) | (got > np.maximum(0.0, g) + slack) | np.isnan(got))
    return tuple(int(i) for i in np.argwhere(bad)[0]) if np.any(bad) else None


def tie_case(label: str, x: np.ndarray | float, y: np.ndarray | float) -> None:
    """maximum_back0 and maximum_back1 on inputs with ties, judged together.

    At a tie, any split of grad_out is a valid subgradient: this operand gets
    a fraction lam in [0, 1] of it and the other gets the rest. The split is
    read off the operand that has the output's full shape; the other
    operand's gradient must then be exactly the rest, summed to its shape.
    """
    name = f"maximum_back0/1 at ties, {label}"
    out = np.maximum(x, y)
    grad_out = away_from_zero(f"{name}: grad_out", out.shape, 0.2, 2.0)
    operands = (x, y)
    positions = [p for p in (0, 1) if isinstance(operands[p], np.ndarray)]
    shapes = ", ".join(f"{'xy'[p]}: {describe(operands[p])}" for p in (0, 1))

    @probe("3.8", name)
    def case(student: Any) -> dict[str, Any]:
        observation: dict[str, Any] = {}
        for position in positions:
            backward = getattr(student.part3_ops, f"maximum_back{position}")
            called = observe_call(backward, [grad_out, out, *operands], ["grad_out", "out", "x", "y"])
            observation[f"back{position}"] = called["result"]
            observation[f"mutated{position}"] = called["mutated"]
        return observation

    @case.judge
    def judge_ties(observation: dict[str, Any]) -> None:
        g = grad_out.astype(np.float64)
        xb, yb = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        tie = xb == yb
        wins = (xb > yb, yb > xb)
        for position in positions:
            expect_untouched({"mutated": observation[f"mutated{position}"]}, f"maximum_back{position}")
        # The operand whose share is read off entry by entry.
        full = next(p for p in positions if np.shape(operands[p]) == out.shape)
        full_name = f"maximum_back{full}"
        what = f"{full_name}(grad_out, out, x, y) with {shapes}"
        got = expect_exact_off_kink(
            observation[f"back{full}"], g * wins[full], tie, what=what, off=" (entries without a tie)"
        )
        where = first_share_outside(got, g, tie)
        if where is not None:
            raise CaseFailure(
                f"{what}: at the tie x == y at index {list(where)}, grad_out is {g[where]:.6g} and you gave {got[where]:.6g}. "
                "At a tie each side may take any fraction between 0 and 1 of grad_out (this kit splits it in half), but no more and no less.",
                mistake="a share of grad_out outside [0, 1] at a tie",
            )
        share = np.where(tie, got, g * wins[full])
        for other in positions:
            if other == full:
                continue
            other_shape = np.shape(operands[other])
            expected = sum_to_shape(g * wins[other] + (g - share) * tie, other_shape)
            other_what = f"maximum_back{other}(grad_out, out, x, y) with {shapes}"
            tie_mistakes = {
                # Called in this iteration only (below), so the loop's `other` is the one meant.
                "by giving ties to neither side": lambda: sum_to_shape(g * wins[other], other_shape),  # noqa: B023
                "by giving ties wholly to both sides": lambda: sum_to_shape(g * wins[other] + g * tie, other_shape),  # noqa: B023
            }
            try:
                expect_array(observation[f"back{other}"], expected, what=other_what, broadcast_shape=out.shape)
            except CaseFailure as failure:
                if not any(matches(observation[f"back{other}"], wrong()) for wrong in tie_mistakes.values()):
                    raise
                raise CaseFailure(
                    f"{failure}\nAt ties (x == y) the two shares must add up to grad_out: {full_name} took "
                    f"{tie_fraction(share, g, tie)} of it there, so maximum_back{other} must take the rest. "
                    "Giving the whole gradient to both sides, or to neither, counts it twice or loses it.",
                    mistake="shares at ties that do not add up to grad_out",
                ) from None


def tie_fraction(share: np.ndarray, g: np.ndarray, tie: np.ndarray) -> str:
    fractions = share[tie] / g[tie]
    if matches(fractions, np.full_like(fractions, fractions[0])):
        return f"{fractions[0]:.3g}"
    return f"between {fractions.min():.3g} and {fractions.max():.3g}"


def tie_mask(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """About half the entries, and always the first, drawn from the input named `name`."""
    mask = rng(input_number(name)).random(size=shape) < 0.5
    mask.flat[0] = True
    return mask


def tied_to(name: str, shape: tuple[int, ...], other: np.ndarray | float, offset: float) -> np.ndarray:
    """An operand of `shape` that equals `other` at about half its entries and is untied elsewhere."""
    return with_ties(untied(name, shape, offset), other, tie_mask(f"{name}, ties", shape))


x = normal("ties, same shapes: x", (3, 4))
tie_case("same shapes", x, tied_to("ties, same shapes: y", (3, 4), x, Y_OFFSET))
y = normal("ties, y broadcast along rows: y", (4,))
tie_case("y broadcast along rows", tied_to("ties, y broadcast along rows: x", (3, 4), y, X_OFFSET), y)
x = normal("ties, x broadcast into y: x", (4,))
tie_case("x broadcast into y", x, tied_to("ties, x broadcast into y: y", (3, 4), x, Y_OFFSET))
tie_case("y a Python float", tied_to("ties, y a Python float: x", (2, 3), 0.5, X_OFFSET), 0.5)
tie_case("x a Python float", -0.25, tied_to("ties, x a Python float: y", (5,), -0.25, Y_OFFSET))
x = normal("ties, every entry tied: x", (2, 2))
tie_case("every entry tied", x, x.copy())


def relu_case(label: str, shape: tuple[int, ...], *, zeros: str = "none", requires_grad: bool = True) -> None:
    """zeros: which entries of x are 0, where relu has no derivative: "none", "some" (about half) or "all"."""
    name = f"relu {label}"
    x = normal(f"{name}: x", shape)
    if zeros != "none":
        x = float32(np.where(tie_mask(f"{name}: zeros", shape) if zeros == "some" else True, 0.0, x))
    grad_out = away_from_zero(f"{name}: grad_out", x.shape, 0.2, 2.0)

    @probe("3.8", name)
    def case(student: Any) -> dict[str, Any]:
        tensor = student.core.Tensor(x.copy(), requires_grad=requires_grad)
        before = tensor.array
        result = student.part3_ops.relu(tensor)
        observation = {
            "result": returned(result),
            "is_input": result is tensor,
            "input_after": returned(before),
            "requires_grad": bool(getattr(result, "requires_grad", False)),
        }
        if requires_grad and observation["requires_grad"]:
            observation["backward"] = attempt(result.backward, grad_out.copy())
            observation["grad"] = returned(tensor.grad)
        return observation

    @case.judge
    def judge_relu(observation: dict[str, Any]) -> None:
        what = f"relu(x) with x of shape {x.shape}"
        result = observation["result"]
        if result.get("kind") != "tensor":
            raise CaseFailure(
                f"{what} returned a {result.get('type')}; it should return a new Tensor.", mistake="not a Tensor"
            )
        if observation["is_input"] or not np.array_equal(
            observation["input_after"].get("values"), x.astype(np.float64)
        ):
            raise CaseFailure(
                f"{what} changed x in place; relu must leave x as it is and return a new Tensor.",
                mistake="x changed in place",
            )
        expect_array(as_array(result), np.maximum(x, 0.0), what=f"{what}, the forward values")
        if not requires_grad:
            if observation["requires_grad"]:
                raise CaseFailure(
                    f"{what}: x does not require grad, but the result does.",
                    mistake="requires grad with no input that does",
                )
            return
        if not observation["requires_grad"]:
            raise CaseFailure(
                f"{what}: x requires grad, but the result does not, so backprop cannot reach x. "
                "Build relu from Tensor operations (maximum with 0.0) instead of making a Tensor from an array.",
                mistake="result cut off from the graph",
            )
        grad_what = f"x.grad after relu(x).backward(grad_out) with x of shape {x.shape}"
        raised = observation.get("backward", {}).get("raised")
        if raised:
            hint = (
                (
                    " relu made an operation that has no backward function: build it from Tensor operations "
                    "(maximum with 0.0) so that backprop goes through maximum_back0."
                )
                if raised.get("type") == "KeyError"
                else ""
            )
            raise CaseFailure(
                f"relu(x).backward(grad_out) with x of shape {x.shape} raised {raised.get('type')}: {raised.get('message')}.{hint}",
                mistake="backward raised",
            )
        grad = as_array(observation.get("grad", {"type": "NoneType", "kind": "other"}))
        if grad.get("type") == "NoneType":
            raise CaseFailure(
                f"{grad_what}: x.grad is None, so backprop never reached x. Does the result have a recipe that leads to x? "
                "Build relu from Tensor operations (maximum with 0.0) rather than making a new Tensor from an array.",
                mistake="backprop never reached x",
            )
        g = grad_out.astype(np.float64)
        got = expect_exact_off_kink(grad, g * (x > 0), x == 0, what=grad_what, off=" (entries where x != 0)")
        where = first_share_outside(got, g, x == 0)
        if where is not None:
            raise CaseFailure(
                f"{grad_what}: at x == 0 (index {list(where)}) grad_out is {g[where]:.6g} and x.grad is {got[where]:.6g}. "
                "relu has no derivative at 0: any fraction between 0 and 1 of grad_out is a valid choice, nothing outside.",
                mistake="a share of grad_out outside [0, 1] at x == 0",
            )


relu_case("on x of shape (3, 4) with some zeros", (3, 4), zeros="some")
relu_case("on x of shape (6,)", (6,))
relu_case("on a 0-d x at 0", (), zeros="all")
relu_case("on x that does not require grad", (2, 3), requires_grad=False)


# 3.9 matmul ----------------------------------------------------------------------

# Promises of _matmul2d, matmul2d_back0 and matmul2d_back1's docstrings, and the cases that check them:
# - _matmul2d: (n, k) @ (k, m) gives (n, m): its five cases, one per shape pair, e.g. "_matmul2d of (4, 1) and (1, 3)"
# - matmul2d_back0: grad_out @ y.T: its five cases (a missing transpose is named), e.g.
#   "matmul2d_back0 with x: (2, 3), y: (3, 4)"
# - matmul2d_back1: x.T @ grad_out: its five cases (a missing transpose is named), e.g.
#   "matmul2d_back1 with x: (5, 2), y: (2, 1)"

MATMUL_SHAPES = [((2, 3), (3, 4)), ((4, 1), (1, 3)), ((1, 5), (5, 2)), ((5, 2), (2, 1)), ((3, 3), (3, 3))]


for x_shape, y_shape in MATMUL_SHAPES:
    name = f"_matmul2d of {x_shape} and {y_shape}"
    x, y = normal(f"{name}: x", x_shape), normal(f"{name}: y", y_shape)
    call_case(
        "3.9",
        name,
        module=MODULE,
        function="_matmul2d",
        args=[x, y],
        arg_names=["x", "y"],
        expected=lambda x=x, y=y: x.astype(np.float64) @ y.astype(np.float64),
        what=f"_matmul2d(x, y) with x: {x_shape}, y: {y_shape}",
    )


def matmul_mismatch(
    position: int, x_shape: tuple[int, int], y_shape: tuple[int, int]
) -> Callable[[dict[str, Any]], str]:
    """Words for a matrix product whose shapes cannot line up: the transpose that is missing."""
    n, m = x_shape[0], y_shape[1]
    grad_shape = (n, m)

    def explain(error: dict[str, Any]) -> str:
        # Decided by the exception's type and the shapes, never its words:
        # a ValueError where the product without the transpose cannot line up.
        untransposed_fits = grad_shape[1] == y_shape[0] if position == 0 else x_shape[1] == grad_shape[0]
        if error.get("type") != "ValueError" or untransposed_fits:
            return ""
        if position == 0:
            return (
                f"grad_out {grad_shape} @ y {tuple(y_shape)} cannot line up: did you mean y.T? "
                f"dL/dx = grad_out @ y.T: {grad_shape} @ {tuple(y_shape[::-1])} gives x's shape {tuple(x_shape)}."
            )
        return (
            f"x {tuple(x_shape)} @ grad_out {grad_shape} cannot line up: did you mean x.T? "
            f"dL/dy = x.T @ grad_out: {tuple(x_shape[::-1])} @ {grad_shape} gives y's shape {tuple(y_shape)}."
        )

    return explain


for x_shape, y_shape in MATMUL_SHAPES:
    # One x and one y for both backward functions.
    name = f"matmul2d_back, x: {x_shape}, y: {y_shape}"
    x, y = normal(f"{name}: x", x_shape), normal(f"{name}: y", y_shape)
    for position in (0, 1):
        grad_case(
            "3.9",
            f"matmul2d_back{position} with x: {x_shape}, y: {y_shape}",
            function=f"matmul2d_back{position}",
            forward=np.matmul,
            args=[x, y],
            wrt=position,
            explain_error=matmul_mismatch(position, x_shape, y_shape),
        )


# 3.10 argmax, add_ and sub_ --------------------------------------------------------

# Promises of argmax, add_ and sub_'s docstrings, and the cases that check them:
# - argmax: dim=None gives the index into the flattened x (0-d, or shape (1,) * ndim with keepdim):
#   "argmax with dim=None, keepdim=False on x of shape (3, 4, 5)",
#   "argmax with dim=None, keepdim=True on x of shape (3, 4, 5)",
#   "argmax with dim=left out, keepdim=left out on x of shape (3, 4)"
# - argmax: along dim otherwise, keepdim keeps it as size 1: "argmax with dim=0, keepdim=False on x of shape (3, 4, 5)",
#   "argmax with dim=1, keepdim=True on x of shape (3, 4, 5)",
#   "argmax with dim=-1, keepdim=False on x of shape (3, 4, 5)",
#   "argmax with dim=-2, keepdim=True on x of shape (3, 4, 5)", "argmax with dim=0, keepdim=False on x of shape (6,)",
#   "argmax with dim=1, keepdim=False on x of shape (2, 7)", "argmax with dim=1, keepdim=left out on x of shape (3, 4)"
# - argmax: never requires grad, no recipe: all argmax cases
# - add_ and sub_: x.array += (or -=) alpha * other, a Tensor or a number:
#   "add_(x of shape (3, 4), a Tensor of shape (3, 4))", "add_(x of shape (3, 4), a Tensor of shape (4,), alpha=0.5)",
#   "add_(x of shape (2, 3), the number 2.0, alpha=-1.5)", "sub_(x of shape (3, 4), a Tensor of shape (3, 4))",
#   "sub_(x of shape (3, 4), a Tensor of shape (4,), alpha=0.5)", "sub_(x of shape (2, 3), the number 2.0, alpha=-1.5)"
# - add_ and sub_: the same array object afterwards, its shape and dtype kept: all add_ and sub_ cases
# - add_ and sub_: nothing recorded for backprop, returns x:
#   "add_(x of shape (5,), a Tensor of shape (5,), alpha=0.1) on x that requires grad",
#   "sub_(x of shape (5,), a Tensor of shape (5,), alpha=0.1) on x that requires grad"


LEFT_OUT = "left out"


def argmax_case(shape: tuple[int, ...], dim: int | None | str, keepdim: bool | str) -> None:
    """dim or keepdim LEFT_OUT: not passed at all, so the default applies (None, False)."""
    keywords = {name: value for name, value in (("dim", dim), ("keepdim", keepdim)) if value != LEFT_OUT}
    name = f"argmax with dim={dim}, keepdim={keepdim} on x of shape {shape}"
    x = normal(f"{name}: x", shape)
    dim = None if dim == LEFT_OUT else dim
    keepdim = False if keepdim == LEFT_OUT else keepdim

    @probe("3.10", name)
    def case(student: Any) -> dict[str, Any]:
        tensor = student.core.Tensor(x.copy(), requires_grad=True)
        result = student.part3_ops.argmax(tensor, **keywords)
        return {
            "result": returned(result),
            "requires_grad": bool(getattr(result, "requires_grad", False)),
            "has_recipe": getattr(result, "recipe", None) is not None,
        }

    @case.judge
    def judge_argmax(observation: dict[str, Any]) -> None:
        what = (
            "argmax(x" + "".join(f", {key}={value}" for key, value in keywords.items()) + f") with x of shape {shape}"
        )
        result = observation["result"]
        if result.get("kind") == "array":
            raise CaseFailure(
                f"{what} returned a NumPy {result.get('type')}; it should return a Tensor holding the indices.",
                mistake="an array, not a Tensor",
            )
        expect_returned(result, what, "a Tensor holding the indices")
        if result.get("kind") != "tensor":
            raise CaseFailure(f"{what} returned a {result.get('type')}; it should return a Tensor holding the indices.")
        expected = np.argmax(x, axis=dim, keepdims=keepdim)
        got_shape = tuple(result.get("shape") or ())
        if "keepdim" not in keywords and got_shape == np.argmax(x, axis=dim, keepdims=True).shape != expected.shape:
            raise CaseFailure(
                f"{what} has shape {got_shape}, but it should have shape {expected.shape}: with keepdim left out, "
                "its default is False, so the reduced dim is dropped. Is your default keepdim=True?",
                mistake="a default of keepdim=True",
            )
        if dim is not None and got_shape == () != expected.shape:
            raise CaseFailure(
                f"{what} is a single index, but it should have shape {expected.shape}: one index along dim {dim} "
                "for each position of the other dims. Pass dim on to np.argmax as its axis.",
                mistake="dim ignored",
            )
        expect_array(as_array(result), expected, what=what)
        if observation["requires_grad"]:
            raise CaseFailure(
                f"{what}: the result requires grad. argmax is not differentiable (its values are indices), so its result never requires grad.",
                mistake="a result that requires grad",
            )
        if observation["has_recipe"]:
            raise CaseFailure(
                f"{what}: the result has a recipe. argmax is not differentiable: its result is not part of the graph, so it has no recipe.",
                mistake="a result with a recipe",
            )


for shape, dim, keepdim in [
    ((3, 4, 5), None, False),
    ((3, 4, 5), None, True),
    ((3, 4, 5), 0, False),
    ((3, 4, 5), 1, True),
    ((3, 4, 5), -1, False),
    ((3, 4, 5), -2, True),
    ((6,), 0, False),
    ((2, 7), 1, False),
    ((3, 4), LEFT_OUT, LEFT_OUT),
    ((3, 4), 1, LEFT_OUT),
]:
    argmax_case(shape, dim, keepdim)


def in_place_case(
    function: str,
    shape: tuple[int, ...],
    other: tuple[int, ...] | float,
    alpha: float | None,
    requires_grad: bool = False,
) -> None:
    """other: the shape of a Tensor operand, or a Python number."""
    sign = 1.0 if function == "add_" else -1.0
    given_alpha = "" if alpha is None else f", alpha={alpha}"
    other_text = f"a Tensor of shape {other}" if isinstance(other, tuple) else f"the number {other}"
    name = f"{function}(x of shape {shape}, {other_text}{given_alpha})" + (
        " on x that requires grad" if requires_grad else ""
    )
    x = normal(f"{name}: x", shape)
    if isinstance(other, tuple):
        other = normal(f"{name}: other", other)

    @probe("3.10", name)
    def case(student: Any) -> dict[str, Any]:
        Tensor = student.core.Tensor
        tensor = Tensor(x.copy(), requires_grad=requires_grad)
        original = tensor.array
        operand = Tensor(other.copy(), requires_grad=requires_grad) if isinstance(other, np.ndarray) else other
        keywords = {} if alpha is None else {"alpha": alpha}
        result = getattr(student.part3_ops, function)(tensor, operand, **keywords)
        return {
            "returns_x": result is tensor,
            "same_array": tensor.array is original,
            "original_after": returned(original),
            "dtype": str(original.dtype),
            "other_after": returned(operand.array) if isinstance(other, np.ndarray) else None,
            "requires_grad": bool(tensor.requires_grad),
            "has_recipe": getattr(tensor, "recipe", None) is not None,
        }

    @case.judge
    def judge_in_place(observation: dict[str, Any]) -> None:
        what = f"{function}(x, {other_text}{given_alpha}) with x of shape {shape}"
        expected = x.astype(np.float64) + sign * (1.0 if alpha is None else alpha) * np.asarray(other, dtype=np.float64)
        if not observation["same_array"]:
            after = observation["original_after"].get("values")
            changed = after is not None and not np.array_equal(after, x.astype(np.float64))
            raise CaseFailure(
                f"{what}: afterwards x.array is a different array object"
                + (" (and the original array was changed too)" if changed else "")
                + ". An in-place update must write into the existing array "
                f"(x.array {'+=' if sign > 0 else '-='} ...): optimisers rely on Parameters sharing their arrays.",
                mistake="x.array replaced by a new array",
            )
        if observation["dtype"] != "float32":
            raise CaseFailure(
                f"{what}: x.array changed dtype to {observation['dtype']}; it must stay float32.",
                mistake="dtype changed",
            )
        try:
            expect_array(observation["original_after"], expected, what=f"x.array after {what}")
        except CaseFailure as failure:
            scaled = (1.0 if alpha is None else alpha) * np.asarray(other, dtype=np.float64)
            # {short name: (the wrong result, what it looks like)}
            known = {
                "alpha ignored": (
                    x + sign * np.asarray(other, dtype=np.float64),
                    "alpha was ignored: add alpha * other",
                ),
                "wrong sign": (
                    x - sign * scaled,
                    f"the sign is wrong: {function} {'adds' if sign > 0 else 'subtracts'} alpha * other",
                ),
                "x unchanged": (x.astype(np.float64), "x did not change at all: update x.array itself, in place"),
            }
            for short, (wrong, hint) in known.items():
                if matches(observation["original_after"], wrong):
                    raise CaseFailure(f"{failure}\nIt looks like {hint}.", mistake=short) from None
            raise
        if isinstance(other, np.ndarray):
            after = observation["other_after"].get("values")
            if after is None or not np.array_equal(after, other.astype(np.float64)):
                raise CaseFailure(f"{what} changed `other`; only x may change.", mistake="other changed")
        if not observation["returns_x"]:
            raise CaseFailure(
                f"{what} did not return x. It changes x in place and returns x itself (so calls can be chained).",
                mistake="x not returned",
            )
        if observation["requires_grad"] != requires_grad or observation["has_recipe"]:
            raise CaseFailure(
                f"{what} changed x's requires_grad or gave it a recipe. An in-place update is not part of the graph: "
                "x must stay the leaf it was.",
                mistake="an in-place update recorded in the graph",
            )


for function in ("add_", "sub_"):
    in_place_case(function, (3, 4), (3, 4), None)
    in_place_case(function, (3, 4), (4,), 0.5)
    in_place_case(function, (2, 3), 2.0, -1.5)
    in_place_case(function, (5,), (5,), 0.1, requires_grad=True)
