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

from itertools import count
from typing import Any, Callable, Sequence

import numpy as np

from ..cases import CaseFailure, probe
from ..numeric import ATOL, RTOL, array_of, expect_array, numerical_vjp
from ..seeds import rng
from ..observe import attempt, returned
from .common import backward_case, changed_inputs, copies, expect_untouched, float32

MODULE = "part3_ops"
_seeds = count(3000)  # one fresh seed per input; both processes build them in the same order


def normal(shape: tuple[int, ...]) -> np.ndarray:
    return float32(rng(next(_seeds)).normal(size=shape))


def away_from_zero(shape: tuple[int, ...], low: float = 0.5, high: float = 2.0) -> np.ndarray:
    """Random values with random signs and |value| in [low, high]: safe divisors."""
    source = rng(next(_seeds))
    return float32(source.uniform(low, high, size=shape) * source.choice([-1.0, 1.0], size=shape))


def sum_to_shape(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The oracle's unbroadcast: sum `values` down to `shape`."""
    leading = values.ndim - len(shape)
    values = values.sum(axis=tuple(range(leading)))
    stretched = tuple(dim for dim, size in enumerate(shape) if size == 1 and values.shape[dim] != 1)
    return values.sum(axis=stretched, keepdims=True).reshape(shape)


def mistake(message: str, *, size: int | None = None) -> CaseFailure:
    """A failure whose message names the mistake it saw (the report shows such messages first)."""
    return CaseFailure(message, mistake=message, size=size)


def tensor_data(observation: dict[str, Any]) -> dict[str, Any]:
    """A returned Tensor's observation, read as its array (expect_array wants arrays)."""
    return dict(observation, kind="array") if observation.get("kind") == "tensor" else observation


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
    """common.backward_case with a fresh seeded grad_out.

    mistakes: known wrong formulas, {description: wrong_backward}, where
    wrong_backward takes the backward function's arguments and the
    description completes "It matches what you get ...".
    broadcasting: False for operations that do not broadcast.
    wrap_judge: (judge, grad_out) -> a judge that looks for a mistake of its
    own first, then calls judge.
    """
    kwargs = dict(kwargs or {})
    out = np.asarray(forward(*args, **kwargs))
    grad_out = float32(rng(next(_seeds)).normal(size=out.shape))
    case = backward_case(
        exercise, name, module=MODULE, function=function, forward=forward,
        args=args, wrt=wrt, grad_out=grad_out, kwargs=kwargs, arg_names=arg_names,
        mistakes=mistakes, broadcasting=broadcasting, explain_error=explain_error,
    )
    if not broadcasting:
        case.run_judge = shaped_like_out_first(case.run_judge, function, out.shape, np.shape(args[wrt]))
    if wrap_judge is not None:
        case.run_judge = wrap_judge(case.run_judge, grad_out)


def shaped_like_out_first(judge: Callable[[Any], None], function: str, out_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> Callable[[Any], None]:
    """A judge that first recognises a gradient left in out's shape.

    For an operation that moves or gathers entries (reshape, transpose, sum,
    indexing), a result shaped like grad_out means the backward step was
    skipped; the shape heuristics of numeric would guess other causes.
    """

    def judged(observation: dict[str, Any]) -> None:
        result = observation.get("result") if isinstance(observation, dict) else None
        shape = tuple(result.get("shape") or ()) if isinstance(result, dict) and "values" in result else None
        if shape is not None and shape == tuple(out_shape) != tuple(x_shape):
            raise mistake(
                f"{name_of(function)} returned an array of shape {shape}, the shape of grad_out, "
                f"but the gradient is for x, of shape {tuple(x_shape)}. Did you return grad_out without undoing the forward step?",
                size=int(np.prod(x_shape, dtype=np.int64)),
            )
        judge(observation)

    return judged


def name_of(function: str) -> str:
    return f"{function}(grad_out, out, ...)"


# 3.1 negative_back and exp_back ----------------------------------------------

for shape in [(3, 4), (5,), (), (2, 1, 3)]:
    grad_case(
        "3.1", f"negative_back on x of shape {shape}",
        function="negative_back", forward=np.negative, args=[normal(shape)], wrt=0,
        mistakes={
            "from -x: the upstream gradient grad_out is missing": lambda g, out, x: -x,
            "from -out: out is the forward result; the gradient is -grad_out": lambda g, out, x: -out,
        },
    )
for shape in [(3, 4), (5,), (), (2, 1, 3)]:
    grad_case(
        "3.1", f"exp_back on x of shape {shape}",
        function="exp_back", forward=np.exp, args=[normal(shape)], wrt=0,
        mistakes={
            "from grad_out * x: the derivative of exp(x) is exp(x), which is `out`": lambda g, out, x: g * x,
        },
    )


# 3.2 reshape_back ------------------------------------------------------------

# (x's shape, new_shape). No new_shape is x's shape reversed: a student who
# returns grad_out unchanged must not be told it looks transposed.
for shape, new_shape in [
    ((3, 4), (2, 6)),
    ((2, 3, 4), (6, -1)),
    ((2, 3, 4), (24,)),
    ((5,), (1, 5, 1)),
    ((), (1,)),
    ((2, 6), (3, 4)),
]:
    grad_case(
        "3.2", f"reshape_back from {shape} to {new_shape}",
        function="reshape_back", forward=np.reshape, args=[normal(shape), new_shape], wrt=0,
        arg_names=("x", "new_shape"),
        mistakes={
            "by transposing grad_out: reshape keeps the entries in C order, so only reshape grad_out to x.shape":
                lambda g, out, x, s: np.reshape(g.T, x.shape),
            "by reshaping in Fortran order: use NumPy's default C order, as the forward reshape did":
                lambda g, out, x, s: np.reshape(g, x.shape, order="F"),
        },
        broadcasting=False,
    )


# 3.3 invert_transposition and permute_back -------------------------------------


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
    def _(observation: dict[str, Any]) -> None:
        what = f"invert_transposition({axes})"
        expected = inverse_of(axes)
        if observation.get("type") == "NoneType":
            raise CaseFailure(f"{what} returned None. Did you forget a `return`?")
        values = observation.get("values")
        if values is None or np.shape(values) != (len(axes),):
            raise CaseFailure(f"{what} returned {observation.get('repr', observation.get('type'))}; it should return a tuple of {len(axes)} ints, here {tuple(expected)}.")
        got = [float(v) for v in np.asarray(values).ravel()]
        if got != [float(v) for v in expected]:
            shown = tuple(int(v) if float(v).is_integer() else v for v in got)
            message = f"{what} returned {shown}, but the inverse is {tuple(expected)}: the inverse q satisfies q[axes[i]] = i."
            if got == [float(v) for v in axes]:
                raise mistake(message + " You returned axes itself, which is right only when the permutation undoes itself (like a swap of two dims); a 3-cycle does not.")
            if len(axes) > 2 and got == [float(v) for v in reversed(axes)]:
                raise mistake(message + " You returned axes reversed.")
            raise mistake(message)


for axes in [(0,), (1, 0), (0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (3, 0, 2, 1), (1, 3, 0, 2), (4, 2, 0, 1, 3)]:
    invert_case(axes)


def transpose_forward(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.transpose(x, axes)


def argsort_of_raw_axes_first(judge: Callable[[Any], None], grad_out: np.ndarray, axes: tuple[int, ...], shape: tuple[int, ...]) -> Callable[[Any], None]:
    """A judge that first recognises np.argsort(axes) taken with negative axes as given.

    argsort orders -1 before 0, so with mixed signs it is not the inverse
    permutation (its result may not even have x's shape).
    """
    wrong = np.transpose(grad_out.astype(np.float64), np.argsort(axes))
    right = np.transpose(grad_out.astype(np.float64), inverse_of(tuple(axis % len(shape) for axis in axes)))

    def judged(observation: dict[str, Any]) -> None:
        result = observation.get("result") if isinstance(observation, dict) else None
        values = result.get("values") if isinstance(result, dict) else None
        if values is not None and np.shape(values) == wrong.shape and np.allclose(values, wrong) and not (
            wrong.shape == right.shape and np.allclose(wrong, right)
        ):
            raise mistake(
                f"permute_back(grad_out, out, x, axes={axes}) with x of shape {shape} matches grad_out transposed by "
                f"np.argsort(axes) = {tuple(int(a) for a in np.argsort(axes))}"
                + (f", which has shape {wrong.shape}, not x's {shape}. " if wrong.shape != tuple(shape) else ". ")
                + "argsort puts -1 before 0, so with negative and non-negative axes mixed it is not the inverse "
                f"permutation. Normalise negative axes first (axis % x.ndim: here {tuple(axis % len(shape) for axis in axes)}), "
                "then invert.",
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
    grad_case(
        "3.3", f"permute_back with axes={axes} on x of shape {shape}",
        function="permute_back", forward=transpose_forward, args=[normal(shape)], wrt=0,
        kwargs={"axes": axes},
        mistakes={
            "by transposing grad_out by axes itself: it must be transposed by the inverse permutation":
                lambda g, out, x, axes: np.transpose(g, axes),
        },
        broadcasting=False,
        wrap_judge=(lambda judge, grad_out, axes=axes, shape=shape: argsort_of_raw_axes_first(judge, grad_out, axes, shape)) if mixed else None,
    )

# axes left out: its default, None, reverses all dims, as np.transpose does.
grad_case(
    "3.3", "permute_back with axes left out on x of shape (3, 2, 4)",
    function="permute_back", forward=np.transpose, args=[normal((3, 2, 4))], wrt=0,
    broadcasting=False,
)


# 3.4 _expand and expand_back ------------------------------------------------


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


def expand_forward_case(shape: tuple[int, ...], new_shape: tuple[int, ...]) -> None:
    x = normal(shape)

    @probe("3.4", f"_expand from {shape} to {new_shape}")
    def case(student: Any) -> dict[str, Any]:
        (x_copy,) = copies([x])
        result = student.part3_ops._expand(x_copy, new_shape)
        return {"result": returned(result), "mutated": changed_inputs([x], [x_copy], ["x"])}

    @case.judge
    def _(observation: dict[str, Any]) -> None:
        expect_untouched(observation, "_expand")
        expected = expand_forward(x, new_shape)
        what = f"_expand(x of shape {shape}, {new_shape})"
        result = observation["result"]
        got_shape = tuple(result.get("shape") or ())
        if result.get("values") is not None and got_shape != expected.shape and -1 in new_shape:
            raise mistake(
                f"{what} has shape {got_shape}, but it should have shape {expected.shape}. "
                "Each -1 keeps the size of the dim of x it lines up with, counting from the right: "
                "new dims are added in front."
            )
        expect_array(result, expected, what=what)


for shape, new_shape in EXPAND_PATTERNS:
    expand_forward_case(shape, new_shape)

for shape, new_shape in EXPAND_PATTERNS:
    grad_case(
        "3.4", f"expand_back from {shape} to {new_shape}",
        function="expand_back", forward=expand_forward, args=[normal(shape), new_shape], wrt=0,
        arg_names=("x", "new_shape"),
    )


# 3.5 sum_back ------------------------------------------------------------------


def sum_forward(x: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
    return np.sum(x, axis=dim, keepdims=keepdim)


def scaled_sum_back(g: np.ndarray, out: np.ndarray, x: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
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
        grad_case(
            "3.5", f"sum_back with dim={dim}, keepdim={keepdim} on x of shape {shape}",
            function="sum_back", forward=sum_forward, args=[normal(shape)], wrt=0,
            kwargs={"dim": dim, "keepdim": keepdim}, mistakes=SUM_MISTAKES, broadcasting=False,
        )


# The defaults, left out: dim=None sums everything, keepdim=False drops the summed dims.
grad_case(
    "3.5", "sum_back with dim and keepdim left out on x of shape (3, 4)",
    function="sum_back", forward=sum_forward, args=[normal((3, 4))], wrt=0, mistakes=SUM_MISTAKES, broadcasting=False,
)
grad_case(
    "3.5", "sum_back with dim=1 and keepdim left out on x of shape (3, 4, 2)",
    function="sum_back", forward=sum_forward, args=[normal((3, 4, 2))], wrt=0, kwargs={"dim": 1},
    mistakes=SUM_MISTAKES, broadcasting=False,
)


# 3.6 coerce_index and getitem_back -------------------------------------------
#
# An index is written here as plain data in which AsTensor(array) stands for
# a Tensor holding that array; the probe builds the real Tensors with the
# (given) core.Tensor.


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
    if isinstance(spec, slice):
        return ":".join("" if v is None else str(v) for v in (spec.start, spec.stop, spec.step)).rstrip(":") or ":"
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
                return (f"the boolean mask {show_index(spec)} became {became}; keep it boolean "
                        "(as numbers, True and False pick the entries at positions 1 and 0 instead of masking)")
            return f"the integer index {show_index(spec)} became a boolean array; keep its integers"
        if got.get("dtype") not in ("i", "u", "b") or values.shape != expected.shape or not np.array_equal(values, expected):
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
        same_array = kind == "array" and got.get("dtype") in ("i", "u") and np.shape(got.get("values")) == () and int(got["values"]) == spec
        return "" if (kind == "int" and got.get("value") == spec) or same_array else f"the int {spec} was changed; leave it as it is"
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
    def _(observation: Any) -> None:
        if spec is not None and isinstance(observation, dict) and observation.get("kind") == "None":
            raise CaseFailure(f"coerce_index({show_index(spec)}) returned None. Did you forget a `return`?")
        problem = index_mismatch(observation, spec)
        if problem:
            raise mistake(f"coerce_index({show_index(spec)}): {problem}.")


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
    x = normal(shape)
    index = plain_index(spec)
    out = np.asarray(x[index])
    grad_out = float32(rng(next(_seeds)).normal(size=out.shape))
    what = f"getitem_back(grad_out, out, x, index) with x of shape {shape} and index {show_index(spec)}"

    @probe("3.6", f"getitem_back with x of shape {shape} and index {show_index(spec)}")
    def case(student: Any) -> dict[str, Any]:
        inputs = [grad_out.copy(), out.copy(), x.copy()]
        result = student.part3_ops.getitem_back(*inputs, build_index(spec, student.core.Tensor))
        return {"result": returned(result), "mutated": changed_inputs([grad_out, out, x], inputs, ["grad_out", "out", "x"])}

    @case.judge
    def _(observation: dict[str, Any]) -> None:
        expect_untouched(observation, "getitem_back")
        result = observation["result"]
        if out.shape != x.shape and tuple(result.get("shape") or ()) == out.shape and "values" in result:
            raise mistake(
                f"{what} has shape {out.shape}, the shape of out and grad_out, but it should have shape {x.shape}: the gradient is for x. "
                "Start from zeros shaped like x and add grad_out in at the indexed places."
            )
        expected = numerical_vjp(lambda values: values[index], [x], 0, grad_out)
        assigned = {
            "by assignment (grad[index] = grad_out): where the index picks an entry more than once, only one pick "
            "keeps its gradient (assigned instead of accumulated). Add them all up with np.add.at":
                lambda: assigned_getitem_back(grad_out.astype(np.float64), out, x.astype(np.float64), index),
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

BROADCAST_PATTERNS = [
    ("same shapes", (3, 4), (3, 4)),
    ("y broadcast along rows", (3, 4), (4,)),
    ("y a column", (3, 4), (3, 1)),
    ("x broadcast into a bigger y", (4,), (2, 3, 4)),
    ("both broadcast", (3, 1), (1, 4)),
    ("x 0-d", (), (2, 3)),
]

DIVIDE_BACK1_MISTAKES = {
    "from -grad_out * x / y: d(x/y)/dy is -x / y**2, so one power of y is missing":
        lambda g, out, x, y: sum_to_shape(np.broadcast_to(-g * x / y, out.shape), np.shape(y)),
    "from -grad_out / y**2: x is missing from d(x/y)/dy = -x / y**2":
        lambda g, out, x, y: sum_to_shape(np.broadcast_to(-g / y**2, out.shape), np.shape(y)),
}

ARITHMETIC = [
    ("add", np.add, False),
    ("subtract", np.subtract, False),
    ("true_divide", np.true_divide, True),
]

for name, forward, divides in ARITHMETIC:
    for label, x_shape, y_shape in BROADCAST_PATTERNS:
        x = normal(x_shape)
        y = away_from_zero(y_shape) if divides else normal(y_shape)
        for position in (0, 1):
            grad_case(
                "3.7", f"{name}_back{position}, {label}: x {x_shape}, y {y_shape}",
                function=f"{name}_back{position}", forward=forward, args=[x, y], wrt=position,
                mistakes=DIVIDE_BACK1_MISTAKES if (divides and position == 1) else None,
            )
    grad_case(
        "3.7", f"{name}_back0 with y a Python float",
        function=f"{name}_back0", forward=forward, args=[normal((2, 3)), 2.5], wrt=0,
    )
    grad_case(
        "3.7", f"{name}_back1 with x a Python float",
        function=f"{name}_back1", forward=forward, args=[-1.5, away_from_zero((4,)) if divides else normal((4,))], wrt=1,
        mistakes=DIVIDE_BACK1_MISTAKES if divides else None,
    )


# 3.8 maximum_back0/1 and relu --------------------------------------------------


# Where an x and a y of maximum sit on a grid of step 0.01: a quarter step
# in for x, three quarters for y. So an x and a y are never closer than half
# a step, whatever the draw, and neither comes near the Python floats the
# cases pair them with (0.3, -0.3, 0.5, -0.25 lie on the grid itself).
GRID_STEP = 0.01
X_OFFSET, Y_OFFSET = 0.25, 0.75


def untied(shape: tuple[int, ...], offset: float) -> np.ndarray:
    """Random values that never come within GRID_STEP / 4 of another operand's (see GRID_STEP)."""
    steps = np.round(rng(next(_seeds)).normal(size=shape) / GRID_STEP)
    return float32((steps + offset) * GRID_STEP)


MAXIMUM_PATTERNS = [
    ("same shapes", (3, 4), (3, 4)),
    ("y broadcast along rows", (3, 4), (4,)),
    ("x broadcast into a bigger y", (4,), (2, 3, 4)),
    ("both broadcast", (3, 1), (1, 4)),
]

for label, x_shape, y_shape in MAXIMUM_PATTERNS:
    x, y = untied(x_shape, X_OFFSET), untied(y_shape, Y_OFFSET)
    assert np.min(np.abs(np.subtract(x, y))) > 1e-3, "a maximum case without ties has a near-tie"
    for position in (0, 1):
        grad_case(
            "3.8", f"maximum_back{position} without ties, {label}: x {x_shape}, y {y_shape}",
            function=f"maximum_back{position}", forward=np.maximum, args=[x, y], wrt=position,
        )
grad_case(
    "3.8", "maximum_back0 without ties, y a Python float",
    function="maximum_back0", forward=np.maximum, args=[untied((2, 5), X_OFFSET), 0.3], wrt=0,
)
grad_case(
    "3.8", "maximum_back1 without ties, x a Python float",
    function="maximum_back1", forward=np.maximum, args=[-0.3, untied((6,), Y_OFFSET)], wrt=1,
)


def with_ties(values: np.ndarray, other: np.ndarray | float, tied: np.ndarray) -> np.ndarray:
    """`values` with the entries where `tied` is True set equal to `other` there."""
    target = np.broadcast_to(np.asarray(other, dtype=np.float32), values.shape)
    return float32(np.where(tied, target, values))


def tie_case(label: str, x: np.ndarray | float, y: np.ndarray | float) -> None:
    """maximum_back0 and maximum_back1 on inputs with ties, judged together.

    At a tie, any split of grad_out is a valid subgradient: this operand gets
    a fraction lam in [0, 1] of it and the other gets the rest. The split is
    read off the operand that has the output's full shape; the other
    operand's gradient must then be exactly the rest, summed to its shape.
    """
    out = np.maximum(x, y)
    grad_out = away_from_zero(out.shape, 0.2, 2.0)
    operands = (x, y)
    positions = [p for p in (0, 1) if isinstance(operands[p], np.ndarray)]
    shapes = ", ".join(f"{'xy'[p]}: {describe(operands[p])}" for p in (0, 1))

    @probe("3.8", f"maximum_back0/1 at ties, {label}")
    def case(student: Any) -> dict[str, Any]:
        observation: dict[str, Any] = {}
        for position in positions:
            inputs = [grad_out.copy(), out.copy(), *copies(operands)]
            result = getattr(student.part3_ops, f"maximum_back{position}")(*inputs)
            observation[f"back{position}"] = returned(result)
            observation[f"mutated{position}"] = changed_inputs([grad_out, out, *operands], inputs, ["grad_out", "out", "x", "y"])
        return observation

    @case.judge
    def _(observation: dict[str, Any]) -> None:
        g = grad_out.astype(np.float64)
        xb, yb = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        tie = xb == yb
        wins = (xb > yb, yb > xb)
        for position in positions:
            expect_untouched({"mutated": observation[f"mutated{position}"]}, f"maximum_back{position}")
        # The operand whose share is read off entry by entry.
        full = next(p for p in positions if np.shape(operands[p]) == out.shape)
        name = f"maximum_back{full}"
        what = f"{name}(grad_out, out, x, y) with {shapes}"
        got = array_of(observation[f"back{full}"], what=what, expected_shape=out.shape)
        # Away from ties the gradient is exact.
        # (A NaN at a tie is compared with the no-tie value, so that it fails as a NaN.)
        expect_array(observation[f"back{full}"], np.where(tie & np.isfinite(got), got, g * wins[full]), what=what + " (entries without a tie)")
        low, high = np.minimum(0.0, g), np.maximum(0.0, g)
        slack = ATOL + RTOL * np.abs(g)
        bad = tie & ((got < low - slack) | (got > high + slack) | np.isnan(got))
        if np.any(bad):
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise mistake(
                f"{what}: at the tie x == y at index {list(where)}, grad_out is {g[where]:.6g} and you gave {got[where]:.6g}. "
                "At a tie each side may take any fraction between 0 and 1 of grad_out (this kit splits it in half), but no more and no less."
            )
        share = np.where(tie, got, g * wins[full])
        for other in positions:
            if other == full:
                continue
            other_shape = np.shape(operands[other])
            expected = sum_to_shape(g * wins[other] + (g - share) * tie, other_shape)
            other_what = f"maximum_back{other}(grad_out, out, x, y) with {shapes}"
            tie_mistakes = {
                "by giving ties to neither side": lambda: sum_to_shape(g * wins[other], other_shape),
                "by giving ties wholly to both sides": lambda: sum_to_shape(g * wins[other] + g * tie, other_shape),
            }
            try:
                expect_array(observation[f"back{other}"], expected, what=other_what, broadcast_shape=out.shape)
            except CaseFailure as failure:
                got_other = observation[f"back{other}"].get("values")
                if got_other is None or not any(
                    np.shape(got_other) == other_shape and np.allclose(got_other, wrong(), rtol=RTOL * 10, atol=ATOL * 10)
                    for wrong in tie_mistakes.values()
                ):
                    raise
                raise mistake(
                    f"{failure}\nAt ties (x == y) the two shares must add up to grad_out: {name} took "
                    f"{tie_fraction(share, g, tie)} of it there, so maximum_back{other} must take the rest. "
                    "Giving the whole gradient to both sides, or to neither, counts it twice or loses it."
                ) from None


def tie_fraction(share: np.ndarray, g: np.ndarray, tie: np.ndarray) -> str:
    fractions = share[tie] / g[tie]
    if np.allclose(fractions, fractions[0], atol=1e-3):
        return f"{fractions[0]:.3g}"
    return f"between {fractions.min():.3g} and {fractions.max():.3g}"


def tie_mask(shape: tuple[int, ...]) -> np.ndarray:
    mask = rng(next(_seeds)).random(size=shape) < 0.5
    mask.flat[0] = True
    return mask


_x = normal((3, 4))
tie_case("same shapes", _x, with_ties(untied((3, 4), Y_OFFSET), _x, tie_mask((3, 4))))
_y = normal((4,))
tie_case("y broadcast along rows", with_ties(untied((3, 4), X_OFFSET), _y, tie_mask((3, 4))), _y)
_x = normal((4,))
tie_case("x broadcast into y", _x, with_ties(untied((3, 4), Y_OFFSET), _x, tie_mask((3, 4))))
tie_case("y a Python float", with_ties(untied((2, 3), X_OFFSET), 0.5, tie_mask((2, 3))), 0.5)
tie_case("x a Python float", -0.25, with_ties(untied((5,), Y_OFFSET), -0.25, tie_mask((5,))))
_x = normal((2, 2))
tie_case("every entry tied", _x, _x.copy())


def relu_case(label: str, x: np.ndarray, requires_grad: bool = True) -> None:
    grad_out = away_from_zero(x.shape, 0.2, 2.0)

    @probe("3.8", f"relu {label}")
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
    def _(observation: dict[str, Any]) -> None:
        what = f"relu(x) with x of shape {x.shape}"
        result = observation["result"]
        if result.get("kind") != "tensor":
            raise mistake(f"{what} returned a {result.get('type')}; it should return a new Tensor.")
        if observation["is_input"] or not np.array_equal(observation["input_after"].get("values"), x.astype(np.float64)):
            raise mistake(f"{what} changed x in place; relu must leave x as it is and return a new Tensor.")
        expect_array(tensor_data(result), np.maximum(x, 0.0), what=f"{what}, the forward values")
        if not requires_grad:
            if observation["requires_grad"]:
                raise mistake(f"{what}: x does not require grad, but the result does.")
            return
        if not observation["requires_grad"]:
            raise mistake(
                f"{what}: x requires grad, but the result does not, so backprop cannot reach x. "
                "Build relu from Tensor operations (maximum with 0.0) instead of making a Tensor from an array."
            )
        grad_what = f"x.grad after relu(x).backward(grad_out) with x of shape {x.shape}"
        raised = observation.get("backward", {}).get("raised")
        if raised:
            hint = (" relu made an operation that has no backward function: build it from Tensor operations "
                    "(maximum with 0.0) so that backprop goes through maximum_back0.") if raised.get("type") == "KeyError" else ""
            raise mistake(f"relu(x).backward(grad_out) with x of shape {x.shape} raised {raised.get('type')}: {raised.get('message')}.{hint}")
        grad = tensor_data(observation.get("grad", {"type": "NoneType", "kind": "other"}))
        if grad.get("type") == "NoneType":
            raise mistake(
                f"{grad_what}: x.grad is None, so backprop never reached x. Does the result have a recipe that leads to x? "
                "Build relu from Tensor operations (maximum with 0.0) rather than making a new Tensor from an array."
            )
        got = array_of(grad, what=grad_what, expected_shape=x.shape)
        g = grad_out.astype(np.float64)
        at_zero = x == 0
        expect_array(grad, np.where(at_zero & np.isfinite(got), got, g * (x > 0)), what=grad_what + " (entries where x != 0)")
        bad = at_zero & ((got < np.minimum(0.0, g) - ATOL) | (got > np.maximum(0.0, g) + ATOL) | np.isnan(got))
        if np.any(bad):
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise mistake(
                f"{grad_what}: at x == 0 (index {list(where)}) grad_out is {g[where]:.6g} and x.grad is {got[where]:.6g}. "
                "relu has no derivative at 0: any fraction between 0 and 1 of grad_out is a valid choice, nothing outside."
            )


def with_zeros(shape: tuple[int, ...]) -> np.ndarray:
    values = normal(shape)
    return float32(np.where(tie_mask(shape), 0.0, values))


relu_case("on x of shape (3, 4) with some zeros", with_zeros((3, 4)))
relu_case("on x of shape (6,)", normal((6,)))
relu_case("on a 0-d x at 0", float32(0.0))
relu_case("on x that does not require grad", normal((2, 3)), requires_grad=False)


# 3.9 matmul ----------------------------------------------------------------------

MATMUL_SHAPES = [((2, 3), (3, 4)), ((4, 1), (1, 3)), ((1, 5), (5, 2)), ((5, 2), (2, 1)), ((3, 3), (3, 3))]


def matmul_forward_case(x_shape: tuple[int, int], y_shape: tuple[int, int]) -> None:
    x, y = normal(x_shape), normal(y_shape)

    @probe("3.9", f"_matmul2d of {x_shape} and {y_shape}")
    def case(student: Any) -> dict[str, Any]:
        inputs = copies([x, y])
        result = student.part3_ops._matmul2d(*inputs)
        return {"result": returned(result), "mutated": changed_inputs([x, y], inputs, ["x", "y"])}

    @case.judge
    def _(observation: dict[str, Any]) -> None:
        expect_untouched(observation, "_matmul2d")
        expected = x.astype(np.float64) @ y.astype(np.float64)
        expect_array(observation["result"], expected, what=f"_matmul2d(x, y) with x: {x_shape}, y: {y_shape}")


for x_shape, y_shape in MATMUL_SHAPES:
    matmul_forward_case(x_shape, y_shape)

def matmul_mismatch(position: int, x_shape: tuple[int, int], y_shape: tuple[int, int]) -> Callable[[dict[str, Any]], str]:
    """Words for a matrix product whose shapes cannot line up: the transpose that is missing."""
    n, m = x_shape[0], y_shape[1]
    grad_shape = (n, m)

    def explain(error: dict[str, Any]) -> str:
        text = str(error.get("message", ""))
        if error.get("type") != "ValueError" or not any(word in text for word in ("matmul", "aligned", "mismatch")):
            return ""
        if position == 0:
            return (f"grad_out {grad_shape} @ y {tuple(y_shape)} cannot line up: did you mean y.T? "
                    f"dL/dx = grad_out @ y.T: {grad_shape} @ {tuple(y_shape[::-1])} gives x's shape {tuple(x_shape)}.")
        return (f"x {tuple(x_shape)} @ grad_out {grad_shape} cannot line up: did you mean x.T? "
                f"dL/dy = x.T @ grad_out: {tuple(x_shape[::-1])} @ {grad_shape} gives y's shape {tuple(y_shape)}.")

    return explain


for x_shape, y_shape in MATMUL_SHAPES:
    x, y = normal(x_shape), normal(y_shape)
    for position in (0, 1):
        grad_case(
            "3.9", f"matmul2d_back{position} with x: {x_shape}, y: {y_shape}",
            function=f"matmul2d_back{position}", forward=np.matmul, args=[x, y], wrt=position,
            explain_error=matmul_mismatch(position, x_shape, y_shape),
        )


# 3.10 argmax, add_ and sub_ --------------------------------------------------------


LEFT_OUT = "left out"


def argmax_case(shape: tuple[int, ...], dim: int | None | str, keepdim: bool | str) -> None:
    """dim or keepdim LEFT_OUT: not passed at all, so the default applies (None, False)."""
    x = normal(shape)
    keywords = {name: value for name, value in (("dim", dim), ("keepdim", keepdim)) if value != LEFT_OUT}
    dim = None if dim == LEFT_OUT else dim
    shown_keepdim = keepdim
    keepdim = False if keepdim == LEFT_OUT else keepdim

    @probe("3.10", f"argmax with dim={keywords.get('dim', LEFT_OUT)}, keepdim={shown_keepdim} on x of shape {shape}")
    def case(student: Any) -> dict[str, Any]:
        tensor = student.core.Tensor(x.copy(), requires_grad=True)
        result = student.part3_ops.argmax(tensor, **keywords)
        return {
            "result": returned(result),
            "requires_grad": bool(getattr(result, "requires_grad", False)),
            "has_recipe": getattr(result, "recipe", None) is not None,
        }

    @case.judge
    def _(observation: dict[str, Any]) -> None:
        what = "argmax(x" + "".join(f", {name}={value}" for name, value in keywords.items()) + f") with x of shape {shape}"
        result = observation["result"]
        if result.get("kind") == "array":
            raise mistake(f"{what} returned a NumPy {result.get('type')}; it should return a Tensor holding the indices.")
        if result.get("type") == "NoneType":
            raise CaseFailure(f"{what} returned None; it should return a Tensor holding the indices. Did you forget a `return`?")
        if result.get("kind") != "tensor":
            raise CaseFailure(f"{what} returned a {result.get('type')}; it should return a Tensor holding the indices.")
        expected = np.argmax(x, axis=dim, keepdims=keepdim)
        got_shape = tuple(result.get("shape") or ())
        if "keepdim" not in keywords and got_shape == np.argmax(x, axis=dim, keepdims=True).shape != expected.shape:
            raise mistake(f"{what} has shape {got_shape}, but it should have shape {expected.shape}: with keepdim left out, "
                          "its default is False, so the reduced dim is dropped. Is your default keepdim=True?")
        if dim is not None and got_shape == () != expected.shape:
            raise mistake(f"{what} is a single index, but it should have shape {expected.shape}: one index along dim {dim} "
                          "for each position of the other dims. Pass dim on to np.argmax as its axis.")
        expect_array(tensor_data(result), expected, what=what)
        if observation["requires_grad"]:
            raise mistake(f"{what}: the result requires grad. argmax is not differentiable (its values are indices), so its result never requires grad.")
        if observation["has_recipe"]:
            raise mistake(f"{what}: the result has a recipe. argmax is not differentiable: its result is not part of the graph, so it has no recipe.")


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


def in_place_case(function: str, shape: tuple[int, ...], other: np.ndarray | float, alpha: float | None, requires_grad: bool = False) -> None:
    x = normal(shape)
    sign = 1.0 if function == "add_" else -1.0
    given_alpha = "" if alpha is None else f", alpha={alpha}"
    other_text = f"a Tensor of shape {other.shape}" if isinstance(other, np.ndarray) else f"the number {other}"

    @probe("3.10", f"{function}(x of shape {shape}, {other_text}{given_alpha})" + (" on x that requires grad" if requires_grad else ""))
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
    def _(observation: dict[str, Any]) -> None:
        what = f"{function}(x, {other_text}{given_alpha}) with x of shape {shape}"
        expected = x.astype(np.float64) + sign * (1.0 if alpha is None else alpha) * np.asarray(other, dtype=np.float64)
        if not observation["same_array"]:
            after = observation["original_after"].get("values")
            changed = after is not None and not np.array_equal(after, x.astype(np.float64))
            raise mistake(
                f"{what}: afterwards x.array is a different array object"
                + (" (and the original array was changed too)" if changed else "")
                + ". An in-place update must write into the existing array "
                f"(x.array {'+=' if sign > 0 else '-='} ...): optimisers rely on Parameters sharing their arrays."
            )
        if observation["dtype"] != "float32":
            raise mistake(f"{what}: x.array changed dtype to {observation['dtype']}; it must stay float32.")
        try:
            expect_array(observation["original_after"], expected, what=f"x.array after {what}")
        except CaseFailure as failure:
            got = np.asarray(observation["original_after"].get("values"), dtype=np.float64)
            hints = [
                (x + sign * np.asarray(other, dtype=np.float64), "alpha was ignored: add alpha * other"),
                (x - sign * (1.0 if alpha is None else alpha) * np.asarray(other, dtype=np.float64), f"the sign is wrong: {function} {'adds' if sign > 0 else 'subtracts'} alpha * other"),
                (x.astype(np.float64), "x did not change at all: update x.array itself, in place"),
            ]
            for wrong, hint in hints:
                if got.shape == wrong.shape and np.allclose(got, wrong, rtol=RTOL * 10, atol=ATOL * 10):
                    raise mistake(f"{failure}\nIt looks like {hint}.") from None
            raise
        if isinstance(other, np.ndarray):
            after = observation["other_after"].get("values")
            if after is None or not np.array_equal(after, other.astype(np.float64)):
                raise mistake(f"{what} changed `other`; only x may change.")
        if not observation["returns_x"]:
            raise mistake(f"{what} did not return x. It changes x in place and returns x itself (so calls can be chained).")
        if observation["requires_grad"] != requires_grad or observation["has_recipe"]:
            raise mistake(
                f"{what} changed x's requires_grad or gave it a recipe. An in-place update is not part of the graph: "
                "x must stay the leaf it was."
            )


for function in ("add_", "sub_"):
    in_place_case(function, (3, 4), normal((3, 4)), None)
    in_place_case(function, (3, 4), normal((4,)), 0.5)
    in_place_case(function, (2, 3), 2.0, -1.5)
    in_place_case(function, (5,), normal((5,)), 0.1, requires_grad=True)
