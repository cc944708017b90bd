"""Hidden suite for Part 2: automatic differentiation.

Each exercise is graded on its own: the graph exercises get graphs built by
hand from the given Recipe and Tensor, and backprop runs with a lookup of
known-good backward functions and a known-good sort put in place of the
student's, so a bug in one exercise is never blamed on another.

Mistakes these cases are built to catch:
- BackwardFuncLookup: the table on the class (shared by all lookups), keying
  by function name or by position only, returning None or raising the wrong
  error for a missing entry, a message that names neither.
- log_forward / multiply_forward / wrap_forward_fn: copying the arrays into
  the recipe, parents keyed 0..n over Tensors only instead of by position, a
  Python number made a parent, ignoring `core.grad_tracking_enabled` (or
  reading a stale copy of it), requiring grad when no input does, a recipe on
  a non-differentiable result, dropping keyword arguments.
- topological_sort: duplicates, parents before children, unreachable nodes
  listed, the root not last, any exception (or none) on a cycle instead of
  ValueError, a false cycle on a diamond, comparing nodes with ==, taking
  the root first whatever points to it, comparing counts with `is` (right
  only up to 256 in CPython).
- sorted_computational_graph: forgetting to reverse, leaving out leaves,
  following the wrong attribute, duplicates for a tensor used twice.
- backprop: overwriting instead of adding (a tensor used twice, a reused
  intermediate, a second backward call), ignoring end_grad, storing a gradient
  array that another leaf or end_grad also holds, adding into arrays in place,
  gradients on tensors that do not require grad, state kept between calls,
  calling backward functions without the recipe's kwargs, starting from the
  number 1 (not ones shaped like end_node) when end_grad is None.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..cases import CaseFailure, probe
from ..numeric import expect_array, numerical_vjp
from ..observe import attempt, returned, where_raised
from ..seeds import rng
from .common import changed_inputs, expect_returned, expect_untouched, normal, sum_to_shape, uniform

# ---------------------------------------------------------------------------
# Shared probe helpers


def describe_tensor_result(out: Any, student: Any, labels: dict[int, str], expected_func: Callable) -> dict[str, Any]:
    """What a forward function produced: value, requires_grad, and its recipe in plain terms.

    labels maps id() of the test's own Tensors and arrays to names ("x",
    "x.array"), so the judge can tell the arrays themselves from copies.
    """
    Tensor = student.core.Tensor
    if not isinstance(out, Tensor):
        return {"is_tensor": False, "value": returned(out)}
    recipe = out.recipe
    description: dict[str, Any] = {
        "is_tensor": True,
        "value": returned(out.array),
        "requires_grad": bool(out.requires_grad)
        if isinstance(out.requires_grad, (bool, np.bool_))
        else repr(out.requires_grad),
        "has_recipe": recipe is not None,
    }
    if recipe is not None:
        description["func_is_expected"] = recipe.func is expected_func
        description["func"] = getattr(recipe.func, "__name__", repr(recipe.func))
        description["args"] = [_label_of(arg, labels) for arg in recipe.args]
        description["kwargs"] = {str(key): repr(value) for key, value in dict(recipe.kwargs).items()}
        parents = recipe.parents if isinstance(recipe.parents, dict) else {}
        description["parents"] = {str(position): _label_of(parent, labels) for position, parent in parents.items()}
        description["parents_type"] = type(recipe.parents).__name__
    return description


def _label_of(value: Any, labels: dict[int, str]) -> str:
    if id(value) in labels:
        return labels[id(value)]
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} that is none of the inputs' own arrays"
    return f"the value {value!r}"


def tensor(student: Any, values: np.ndarray, requires_grad: bool) -> Any:
    return student.core.Tensor(values.copy(), requires_grad=requires_grad)


class tracking_off:
    """Turn the student's core.grad_tracking_enabled off for a block (restored after).

    part2_autograd is imported before the switch: each case imports the
    student's modules afresh, and a module first imported inside the block
    would see tracking off from its start (hiding a stale
    `from .core import grad_tracking_enabled`).
    """

    def __init__(self, student: Any):
        self.core = student.core
        student.part2_autograd  # noqa: B018 (imported now, with tracking on)

    def __enter__(self) -> None:
        self.previous = self.core.grad_tracking_enabled
        self.core.grad_tracking_enabled = False

    def __exit__(self, *exc_info: Any) -> None:
        self.core.grad_tracking_enabled = self.previous


# ---------------------------------------------------------------------------
# Shared judge helpers


def expect_forward(
    observation: dict[str, Any],
    *,
    what: str,
    value: np.ndarray,
    requires_grad: bool,
    func: str,
    args: list[str] | None = None,
    kwargs: dict[str, str] | None = None,
    parents_required: dict[str, str] | None = None,
    parents_allowed: dict[str, str] | None = None,
) -> None:
    """Check a forward result: a Tensor, right values, requires_grad, and (when it requires grad) its recipe.

    parents_required must be in the recipe; parents_allowed may be (Tensor
    inputs that do not require grad: keeping them is harmless).
    """
    if not observation.get("is_tensor"):
        expect_returned(observation["value"], what, "a Tensor")
        raise CaseFailure(f"{what} returned a {observation['value'].get('type')}; it should return a Tensor.")
    expect_array(observation["value"], value, what=f"the .array of {what}")
    if observation["requires_grad"] is not requires_grad:
        raise CaseFailure(
            f"{what}: requires_grad is {observation['requires_grad']}, but it should be {requires_grad}. "
            + (
                "It requires grad only when tracking is on and some Tensor input requires grad."
                if not requires_grad
                else "Tracking is on and an input requires grad."
            )
        )
    if not requires_grad:
        if observation.get("has_recipe"):
            raise CaseFailure(
                f"{what}: the result does not require grad, yet it has a recipe. Attach a recipe only when the "
                "result requires grad (tracking on and some Tensor input requiring grad, and the function "
                "differentiable); otherwise leave recipe None, so that nothing under NoGrad or on constants "
                "builds a graph."
            )
        return
    if not observation.get("has_recipe"):
        raise CaseFailure(f"{what}: the result requires grad but has no recipe, so backprop cannot reach its inputs.")
    if not observation.get("func_is_expected"):
        raise CaseFailure(
            f"{what}: recipe.func is {observation.get('func')}; it should be the NumPy function itself, {func}."
        )
    if args is not None and observation.get("args") != args:
        raise CaseFailure(
            f"{what}: recipe.args is ({', '.join(observation.get('args', []))}); it should be ({', '.join(args)}). "
            "The recipe holds each Tensor's array itself (not a copy), and other arguments as they were given."
        )
    if kwargs is not None and observation.get("kwargs") != kwargs:
        raise CaseFailure(f"{what}: recipe.kwargs is {observation.get('kwargs')}; it should be {kwargs}.")
    if observation.get("parents_type") != "dict":
        raise CaseFailure(
            f"{what}: recipe.parents is a {observation.get('parents_type')}; it should be a dict from argument position to Tensor."
        )
    parents = observation.get("parents", {})
    for position, name in (parents_required or {}).items():
        if parents.get(position) != name:
            got = parents.get(position, "nothing")
            raise CaseFailure(
                f"{what}: recipe.parents[{position}] is {got}; it should be the Tensor {name} (parents are keyed by argument position)."
            )
    allowed = {**(parents_allowed or {}), **(parents_required or {})}
    for position, name in parents.items():
        if allowed.get(position) != name:
            raise CaseFailure(
                f"{what}: recipe.parents has {{{position}: {name}}}, which is not a Tensor argument at that position."
            )


def expect_raised(observation: dict[str, Any], error_type: str, what: str) -> dict[str, Any]:
    if "raised" not in observation:
        raise CaseFailure(f"{what} should raise {error_type}, but it returned {observation['returned'].get('type')}.")
    error = observation["raised"]
    if error_type not in error.get("bases", []):
        raise CaseFailure(
            f"{what} should raise {error_type}, but it raised {error.get('type')}: {error.get('message')}"
        )
    return error


# ---------------------------------------------------------------------------
# 2.1 BackwardFuncLookup

# Promises of BackwardFuncLookup's docstring, and the cases that check them:
# - get_back_func returns what add_back_func registered: "returns each registered backward function"
# - keyed by (forward function, position), not by name:
#   "two different functions with the same name keep separate entries"
# - a missing entry raises KeyError naming the function and the position:
#   "a missing entry raises KeyError naming the function and the position"
# - each lookup has a table of its own: "two lookups do not share their entries"


def softsign(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.abs(x))


def _back_stub(name: str) -> Callable:
    def back(grad_out: Any, out: Any, *args: Any, **kwargs: Any) -> Any:
        return grad_out

    back.__name__ = back.__qualname__ = name  # messages show its repr: "<function log_back>"
    return back


LOOKUP_ENTRIES = [("np.log", 0), ("np.multiply", 0), ("np.multiply", 1), ("softsign", 0), ("softsign", 3)]
FORWARDS = {"np.log": np.log, "np.multiply": np.multiply, "softsign": softsign}


def lookup_outcome(lookup: Any, forward: Callable, position: int, back: Callable) -> Any:
    """Probe side: "same" when get_back_func finds `back` itself, else what it returned or raised."""
    result = attempt(lookup.get_back_func, forward, position)
    return "same" if "returned" in result and lookup.get_back_func(forward, position) is back else result


def expect_no_raise(outcome: Any, key: str) -> None:
    if outcome != "same" and "raised" in outcome:
        error = outcome["raised"]
        raise CaseFailure(
            f"get_back_func({key}) raised {error['type']}: {error['message']}, after add_back_func registered it."
        )


@probe("2.1", "returns each registered backward function")
def lookup_roundtrip(student: Any) -> dict[str, Any]:
    lookup = student.part2_autograd.BackwardFuncLookup()
    backs = {entry: _back_stub(f"back_{index}") for index, entry in enumerate(LOOKUP_ENTRIES)}
    for (name, position), back in backs.items():
        lookup.add_back_func(FORWARDS[name], position, back)
    return {
        f"{name}, {position}": lookup_outcome(lookup, FORWARDS[name], position, back)
        for (name, position), back in backs.items()
    }


@lookup_roundtrip.judge
def judge_lookup_roundtrip(observation: dict[str, Any]) -> None:
    for key, outcome in observation.items():
        expect_no_raise(outcome, key)
        if outcome != "same":
            found = outcome["returned"].get("repr", outcome["returned"].get("type"))
            raise CaseFailure(f"get_back_func({key}) returned {found}, not the function registered for ({key}).")


@probe("2.1", "a missing entry raises KeyError naming the function and the position")
def lookup_missing(student: Any) -> dict[str, Any]:
    lookup = student.part2_autograd.BackwardFuncLookup()
    lookup.add_back_func(np.log, 0, _back_stub("log_back"))
    lookup.add_back_func(softsign, 0, _back_stub("softsign_back"))
    return {
        "softsign, 3": attempt(lookup.get_back_func, softsign, 3),
        "np.exp, 0": attempt(lookup.get_back_func, np.exp, 0),
    }


@lookup_missing.judge
def judge_lookup_missing(observation: dict[str, Any]) -> None:
    for key, name, position in (("softsign, 3", "softsign", "3"), ("np.exp, 0", "exp", "0")):
        if "returned" in observation[key]:
            raise CaseFailure(
                f"get_back_func({key}) returned a {observation[key]['returned'].get('type')}, though nothing was "
                "registered for it in this lookup. Missing entries must raise KeyError. (If a function came back, "
                "was it registered in another lookup? A table on the class is shared by every lookup: create it in __init__.)"
            )
        error = expect_raised(observation[key], "KeyError", f"get_back_func({key}) with nothing registered for it")
        if name not in error["message"] or position not in error["message"]:
            raise CaseFailure(
                f"get_back_func({key}) raised KeyError({error['message']}); the message should name both the "
                f"function ({name}) and the position ({position})."
            )


def _same_name_as_softsign() -> Callable:
    """Another forward function, distinct from softsign, that carries the same __name__."""

    def scaled(x: np.ndarray) -> np.ndarray:
        return 2 * softsign(x)

    scaled.__name__ = scaled.__qualname__ = "softsign"
    return scaled


@probe("2.1", "two different functions with the same name keep separate entries")
def lookup_same_name(student: Any) -> dict[str, Any]:
    lookup = student.part2_autograd.BackwardFuncLookup()
    other = _same_name_as_softsign()
    first, second = _back_stub("softsign_back"), _back_stub("scaled_softsign_back")
    lookup.add_back_func(softsign, 0, first)
    lookup.add_back_func(other, 0, second)
    return {
        "softsign, 0": lookup_outcome(lookup, softsign, 0, first),
        "the other softsign, 0": lookup_outcome(lookup, other, 0, second),
    }


@lookup_same_name.judge
def judge_lookup_same_name(observation: dict[str, Any]) -> None:
    for key, outcome in observation.items():
        expect_no_raise(outcome, key)
        if outcome != "same":
            raise CaseFailure(
                f"two different forward functions with the same name (both called softsign) got the same entry: get_back_func({key}) "
                "returned the other one's backward function. Key the table by the function itself, not by its __name__."
            )


@probe("2.1", "two lookups do not share their entries")
def lookup_independent(student: Any) -> dict[str, Any]:
    Lookup = student.part2_autograd.BackwardFuncLookup
    first, second = Lookup(), Lookup()
    first.add_back_func(softsign, 2, _back_stub("softsign_back"))
    return {"second": attempt(second.get_back_func, softsign, 2)}


@lookup_independent.judge
def judge_lookup_independent(observation: dict[str, Any]) -> None:
    if "returned" in observation["second"]:
        raise CaseFailure(
            "a function registered in one BackwardFuncLookup was found in another. Is the table a class attribute? "
            "Create it in __init__ so that each lookup has its own."
        )
    expect_raised(observation["second"], "KeyError", "get_back_func on a second, empty lookup")


# ---------------------------------------------------------------------------
# 2.2 log_forward and multiply_forward

# Promises of log_forward and multiply_forward's docstrings, and the cases that check them:
# - log_forward: requires grad exactly when tracking is on and x requires grad:
#   "log_forward on a tensor that requires grad", "log_forward on a tensor that does not require grad",
#   "log_forward with grad tracking turned off"
# - log_forward: tracking is read as core.grad_tracking_enabled at call time:
#   "log_forward with grad tracking turned off"
# - log_forward: only then a recipe, Recipe(np.log, (x.array,), {}, {0: x}):
#   "log_forward on a tensor that requires grad", "log_forward on a tensor that does not require grad",
#   "log_forward with grad tracking turned off"
# - multiply_forward: one operand may be a Python number: "multiply_forward with a Python number first",
#   "multiply_forward with a Python number second"
# - multiply_forward: args hold each Tensor's array itself and numbers as they are: "multiply_forward on two tensors",
#   "multiply_forward with a Python number first", "multiply_forward with a Python number second"
# - multiply_forward: parents map positions 0 and 1 to the Tensors backprop must reach:
#   "multiply_forward where only b requires grad", "multiply_forward with broadcasting"
# - multiply_forward: requires grad when tracking is on and some operand requires grad, only then a recipe:
#   "multiply_forward where nothing requires grad", "multiply_forward with grad tracking turned off"

X34 = uniform(201, (3, 4), 0.5, 2.0)
Y34 = normal(202, (3, 4))
COL = normal(203, (3, 1))
ROW = normal(204, (1, 4))


def forward_probe(
    student: Any,
    call: Callable[[Any, dict[int, str]], Any],
    inputs: dict[str, tuple[np.ndarray, bool]],
    expected_func: Callable,
    tracking: bool = True,
) -> dict[str, Any]:
    """Make the named input Tensors, call `call(tensors)`, describe the result."""
    tensors = {name: tensor(student, values, grad) for name, (values, grad) in inputs.items()}
    labels: dict[int, str] = {}
    for name, t in tensors.items():
        labels[id(t)] = name
        labels[id(t.array)] = f"{name}.array"
    before = {name: t.array.copy() for name, t in tensors.items()}
    if tracking:
        out = call(tensors)
    else:
        with tracking_off(student):
            out = call(tensors)
    description = describe_tensor_result(out, student, labels, expected_func)
    description["mutated"] = changed_inputs(list(before.values()), [t.array for t in tensors.values()], list(tensors))
    return description


def forward_case(
    exercise: str,
    name: str,
    *,
    call: Callable,
    inputs: dict[str, tuple[np.ndarray, bool]],
    func: Callable,
    func_name: str,
    what: str,
    expected: Callable[[], np.ndarray],
    requires_grad: bool,
    args: list[str] | None = None,
    kwargs: dict[str, str] | None = None,
    parents_required: dict[str, str] | None = None,
    parents_allowed: dict[str, str] | None = None,
    tracking: bool = True,
) -> None:
    @probe(exercise, name)
    def case(student: Any) -> dict[str, Any]:
        return forward_probe(student, lambda tensors: call(student, tensors), inputs, func, tracking)

    @case.judge
    def judge_forward(observation: dict[str, Any]) -> None:
        expect_untouched(observation, what)
        expect_forward(
            observation,
            what=what,
            value=expected(),
            requires_grad=requires_grad,
            func=func_name,
            args=args,
            kwargs=kwargs,
            parents_required=parents_required,
            parents_allowed=parents_allowed,
        )


def _log_forward(student: Any, t: dict[str, Any]) -> Any:
    return student.part2_autograd.log_forward(t["x"])


forward_case(
    "2.2",
    "log_forward on a tensor that requires grad",
    call=_log_forward,
    inputs={"x": (X34, True)},
    func=np.log,
    func_name="np.log",
    what="log_forward(x)",
    expected=lambda: np.log(X34.astype(np.float64)),
    requires_grad=True,
    args=["x.array"],
    kwargs={},
    parents_required={"0": "x"},
)
forward_case(
    "2.2",
    "log_forward on a tensor that does not require grad",
    call=_log_forward,
    inputs={"x": (X34, False)},
    func=np.log,
    func_name="np.log",
    what="log_forward(x) with x.requires_grad False",
    expected=lambda: np.log(X34.astype(np.float64)),
    requires_grad=False,
)
forward_case(
    "2.2",
    "log_forward with grad tracking turned off",
    call=_log_forward,
    inputs={"x": (X34, True)},
    func=np.log,
    func_name="np.log",
    what="log_forward(x) with core.grad_tracking_enabled False",
    expected=lambda: np.log(X34.astype(np.float64)),
    requires_grad=False,
    tracking=False,
)

forward_case(
    "2.2",
    "multiply_forward on two tensors",
    call=lambda s, t: s.part2_autograd.multiply_forward(t["a"], t["b"]),
    inputs={"a": (X34, True), "b": (Y34, True)},
    func=np.multiply,
    func_name="np.multiply",
    what="multiply_forward(a, b)",
    expected=lambda: X34.astype(np.float64) * Y34,
    requires_grad=True,
    args=["a.array", "b.array"],
    kwargs={},
    parents_required={"0": "a", "1": "b"},
)
forward_case(
    "2.2",
    "multiply_forward with broadcasting",
    call=lambda s, t: s.part2_autograd.multiply_forward(t["a"], t["b"]),
    inputs={"a": (COL, True), "b": (ROW, True)},
    func=np.multiply,
    func_name="np.multiply",
    what="multiply_forward(a, b) with shapes (3, 1) and (1, 4)",
    expected=lambda: COL.astype(np.float64) * ROW,
    requires_grad=True,
    args=["a.array", "b.array"],
    parents_required={"0": "a", "1": "b"},
)
forward_case(
    "2.2",
    "multiply_forward with a Python number second",
    call=lambda s, t: s.part2_autograd.multiply_forward(t["a"], 2.5),
    inputs={"a": (Y34, True)},
    func=np.multiply,
    func_name="np.multiply",
    what="multiply_forward(a, 2.5)",
    expected=lambda: Y34.astype(np.float64) * 2.5,
    requires_grad=True,
    args=["a.array", "the value 2.5"],
    parents_required={"0": "a"},
)
forward_case(
    "2.2",
    "multiply_forward with a Python number first",
    call=lambda s, t: s.part2_autograd.multiply_forward(-3.0, t["b"]),
    inputs={"b": (Y34, True)},
    func=np.multiply,
    func_name="np.multiply",
    what="multiply_forward(-3.0, b)",
    expected=lambda: -3.0 * Y34.astype(np.float64),
    requires_grad=True,
    args=["the value -3.0", "b.array"],
    parents_required={"1": "b"},
)
forward_case(
    "2.2",
    "multiply_forward where only b requires grad",
    call=lambda s, t: s.part2_autograd.multiply_forward(t["a"], t["b"]),
    inputs={"a": (X34, False), "b": (Y34, True)},
    func=np.multiply,
    func_name="np.multiply",
    what="multiply_forward(a, b) with only b requiring grad",
    expected=lambda: X34.astype(np.float64) * Y34,
    requires_grad=True,
    args=["a.array", "b.array"],
    parents_required={"1": "b"},
    parents_allowed={"0": "a"},
)
forward_case(
    "2.2",
    "multiply_forward where nothing requires grad",
    call=lambda s, t: s.part2_autograd.multiply_forward(t["a"], t["b"]),
    inputs={"a": (X34, False), "b": (Y34, False)},
    func=np.multiply,
    func_name="np.multiply",
    what="multiply_forward(a, b) with no input requiring grad",
    expected=lambda: X34.astype(np.float64) * Y34,
    requires_grad=False,
)
forward_case(
    "2.2",
    "multiply_forward with grad tracking turned off",
    call=lambda s, t: s.part2_autograd.multiply_forward(t["a"], t["b"]),
    inputs={"a": (X34, True), "b": (Y34, True)},
    func=np.multiply,
    func_name="np.multiply",
    what="multiply_forward(a, b) with core.grad_tracking_enabled False",
    expected=lambda: X34.astype(np.float64) * Y34,
    requires_grad=False,
    tracking=False,
)


# ---------------------------------------------------------------------------
# 2.3 wrap_forward_fn

# Promises of wrap_forward_fn's docstring, and the cases that check them:
# - the same arguments, any positional argument may be a Tensor: "wrapped np.add with a number on the left",
#   "wrapped np.where: tensors at positions 1 and 2"
# - keyword arguments passed through (and recorded): "keyword arguments pass through and are recorded"
# - non-Tensor arguments kept as given: "a shape argument is kept as given"
# - the result wrapped in a new Tensor (0-d too): "a result that is a 0-d array"
# - requires grad only if differentiable, tracking is on and some input requires grad:
#   "not differentiable: no grad, whatever the inputs", "no input requires grad",
#   "grad tracking turned off at call time", "tracking is read at call time, not when wrapping"
# - only then a recipe: "not differentiable: no grad, whatever the inputs", "no input requires grad",
#   "grad tracking turned off at call time"
# - Recipe(func, unboxed args, kwargs, parents by position): "wrapped np.log", "only some inputs require grad",
#   "keyword arguments pass through and are recorded"


def shift_and_scale(x: np.ndarray, factor: float = 1.0, *, shift: float = 0.0) -> np.ndarray:
    """A NumPy-style function with a keyword argument, for testing that kwargs pass through."""
    return x * factor + shift


COND = rng(205).uniform(size=(3, 4)) > 0.5


forward_case(
    "2.3",
    "wrapped np.log",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.log)(t["x"]),
    inputs={"x": (X34, True)},
    func=np.log,
    func_name="np.log",
    what="wrap_forward_fn(np.log)(x)",
    expected=lambda: np.log(X34.astype(np.float64)),
    requires_grad=True,
    args=["x.array"],
    kwargs={},
    parents_required={"0": "x"},
)
forward_case(
    "2.3",
    "wrapped np.add with a number on the left",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.add)(1.5, t["y"]),
    inputs={"y": (Y34, True)},
    func=np.add,
    func_name="np.add",
    what="wrap_forward_fn(np.add)(1.5, y)",
    expected=lambda: 1.5 + Y34.astype(np.float64),
    requires_grad=True,
    args=["the value 1.5", "y.array"],
    parents_required={"1": "y"},
)
forward_case(
    "2.3",
    "wrapped np.where: tensors at positions 1 and 2",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.where)(COND, t["a"], t["b"]),
    inputs={"a": (X34, True), "b": (Y34, True)},
    func=np.where,
    func_name="np.where",
    what="wrap_forward_fn(np.where)(condition, a, b)",
    expected=lambda: np.where(COND, X34, Y34).astype(np.float64),
    requires_grad=True,
    parents_required={"1": "a", "2": "b"},
)
forward_case(
    "2.3",
    "keyword arguments pass through and are recorded",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(shift_and_scale)(t["x"], 2.0, shift=0.5),
    inputs={"x": (X34, True)},
    func=shift_and_scale,
    func_name="the wrapped function",
    what="wrap_forward_fn(f)(x, 2.0, shift=0.5)",
    expected=lambda: X34.astype(np.float64) * 2.0 + 0.5,
    requires_grad=True,
    args=["x.array", "the value 2.0"],
    kwargs={"shift": "0.5"},
    parents_required={"0": "x"},
)
forward_case(
    "2.3",
    "a shape argument is kept as given",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.reshape)(t["x"], (2, 6)),
    inputs={"x": (X34, True)},
    func=np.reshape,
    func_name="np.reshape",
    what="wrap_forward_fn(np.reshape)(x, (2, 6))",
    expected=lambda: X34.astype(np.float64).reshape(2, 6),
    requires_grad=True,
    args=["x.array", "the value (2, 6)"],
    parents_required={"0": "x"},
)
forward_case(
    "2.3",
    "a result that is a 0-d array",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.sum)(t["x"]),
    inputs={"x": (X34, True)},
    func=np.sum,
    func_name="np.sum",
    what="wrap_forward_fn(np.sum)(x)",
    expected=lambda: np.sum(X34.astype(np.float64)),
    requires_grad=True,
    parents_required={"0": "x"},
)
forward_case(
    "2.3",
    "not differentiable: no grad, whatever the inputs",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.equal, is_differentiable=False)(t["a"], t["b"]),
    inputs={"a": (X34, True), "b": (X34, True)},
    func=np.equal,
    func_name="np.equal",
    what="wrap_forward_fn(np.equal, is_differentiable=False)(a, b)",
    expected=lambda: np.ones((3, 4)),
    requires_grad=False,
)
forward_case(
    "2.3",
    "only some inputs require grad",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.multiply)(t["a"], t["b"]),
    inputs={"a": (X34, False), "b": (Y34, True)},
    func=np.multiply,
    func_name="np.multiply",
    what="wrap_forward_fn(np.multiply)(a, b) with only b requiring grad",
    expected=lambda: X34.astype(np.float64) * Y34,
    requires_grad=True,
    args=["a.array", "b.array"],
    parents_required={"1": "b"},
    parents_allowed={"0": "a"},
)
forward_case(
    "2.3",
    "no input requires grad",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.multiply)(t["a"], t["b"]),
    inputs={"a": (X34, False), "b": (Y34, False)},
    func=np.multiply,
    func_name="np.multiply",
    what="wrap_forward_fn(np.multiply)(a, b) with no input requiring grad",
    expected=lambda: X34.astype(np.float64) * Y34,
    requires_grad=False,
)
forward_case(
    "2.3",
    "grad tracking turned off at call time",
    call=lambda s, t: s.part2_autograd.wrap_forward_fn(np.log)(t["x"]),
    inputs={"x": (X34, True)},
    func=np.log,
    func_name="np.log",
    what="wrap_forward_fn(np.log)(x) called with core.grad_tracking_enabled False",
    expected=lambda: np.log(X34.astype(np.float64)),
    requires_grad=False,
    tracking=False,
)


@probe("2.3", "tracking is read at call time, not when wrapping")
def wrap_reads_tracking_late(student: Any) -> dict[str, Any]:
    with tracking_off(student):
        log = student.part2_autograd.wrap_forward_fn(np.log)
    x = tensor(student, X34, True)
    on = log(x)
    with tracking_off(student):
        off = log(x)
    return {"on": bool(on.requires_grad), "off": bool(off.requires_grad)}


@wrap_reads_tracking_late.judge
def judge_wrap_reads_tracking_late(observation: dict[str, Any]) -> None:
    if not observation["on"] or observation["off"]:
        raise CaseFailure(
            "a function wrapped while tracking was off should still track once it is back on, and vice versa: "
            f"got requires_grad {observation['on']} with tracking on and {observation['off']} with it off. "
            "Read core.grad_tracking_enabled inside the returned function, each time it is called."
        )


# ---------------------------------------------------------------------------
# 2.4 topological_sort

# Promises of topological_sort's docstring, and the cases that check them:
# - every reachable node once, unreachable ones left out: "sorts a node listed twice as a child",
#   "sorts unreachable nodes are left out", "sorts a random graph of 30 nodes", "sorts a random graph of 80 nodes",
#   "sorts a random graph of 300 nodes" (more nodes than CPython's shared small ints: counts compared with 'is' fail)
# - every node after all its children, the node itself last: "sorts a chain of 5", "sorts a chain of 150",
#   "sorts a diamond", "sorts a single node"
# - any such order is right: all cases, judged by the property, not against one order
# - get_children gives an iterable: "get_children may return a generator", "get_children may return a tuple"
# - ValueError on a cycle: "raises ValueError on a 3-cycle below the root",
#   "raises ValueError on a node that is its own child", "raises ValueError on a cycle through the root",
#   "raises ValueError on the root its own child",
#   "raises ValueError on a long cycle back to the root, beside a diamond",
#   "raises ValueError on a cycle back to the root, and below it a node that is its own child" (the root is not taken
#   first unless nothing points to it)
# - compare nodes by identity, whatever == says: "compares nodes by identity, not with ==",
#   "distinct nodes that say they are == are still distinct"
# - each call sees the graph as it is (nothing kept between calls): "sorting again after the graph grew"


class Node:
    """A test node: children reached only through the get_children function."""

    def __init__(self, label: int):
        self.label = label
        self.hidden_children: list[Node] = []


class TensorLikeNode(Node):
    """A node whose == answers elementwise, like a Tensor's: its truth value raises."""

    def __eq__(self, other: object) -> Any:
        return _Ambiguous()

    __hash__ = Node.__hash__


class _Ambiguous:
    def __bool__(self) -> bool:
        raise RuntimeError("the truth value of an elementwise comparison is ambiguous: compare nodes by identity")


def get_children(node: Node) -> list[Node]:
    return list(node.hidden_children)


# Graphs as adjacency lists {node: [children]}; node 0 is the root.
GRAPHS: dict[str, dict[int, list[int]]] = {
    "a single node": {0: []},
    "a chain of 5": {0: [1], 1: [2], 2: [3], 3: [4], 4: []},
    "a diamond": {0: [1, 2], 1: [3], 2: [3], 3: []},
    "a node listed twice as a child": {0: [1, 1, 2], 1: [2], 2: []},
    "unreachable nodes are left out": {0: [1], 1: [], 2: [0, 1], 3: [2]},
    "a chain of 150": {i: ([i + 1] if i < 149 else []) for i in range(150)},
}


def random_dag(seed: int, size: int) -> dict[int, list[int]]:
    """Edges only go from a lower to a higher label, so there is no cycle; every node is reachable from 0."""
    generator = rng(seed)
    graph: dict[int, list[int]] = {i: [] for i in range(size)}
    for child in range(1, size):
        parent = int(generator.integers(0, child))
        graph[parent].append(child)
    for _ in range(size):
        a, b = sorted(int(v) for v in generator.integers(0, size, size=2))
        if a != b and b not in graph[a]:
            graph[a].append(b)
    for children in graph.values():
        generator.shuffle(children)
    return graph


GRAPHS["a random graph of 30 nodes"] = random_dag(211, 30)
GRAPHS["a random graph of 80 nodes"] = random_dag(212, 80)

CYCLIC_GRAPHS: dict[str, dict[int, list[int]]] = {
    "a 3-cycle below the root": {0: [1], 1: [2], 2: [3], 3: [1]},
    "a node that is its own child": {0: [1, 2], 1: [1], 2: []},
    "a cycle through the root": {0: [1], 1: [2], 2: [0]},
    "the root its own child": {0: [0]},
    "a long cycle back to the root, beside a diamond": {0: [1, 4], 1: [2, 3], 2: [5], 3: [5], 4: [5], 5: [6], 6: [0]},
    # Taking the root first although a node points back to it lists it twice,
    # while the self-loop below keeps node 2 out: the count still comes out right.
    "a cycle back to the root, and below it a node that is its own child": {0: [1], 1: [0, 2], 2: [2]},
}

# Hints for a sort that returns on one of CYCLIC_GRAPHS.
CYCLE_HINTS = {
    "a cycle back to the root, and below it a node that is its own child": (
        " Node 1 points back to the root, so the root is on a cycle too: it is not ready to be taken until every node "
        "pointing to it has been, which never happens. Was the root taken first whatever its count of incoming edges?"
    ),
}


def build_nodes(graph: dict[int, list[int]], node_type: type = Node) -> dict[int, Node]:
    nodes = {label: node_type(label) for label in graph}
    for label, children in graph.items():
        nodes[label].hidden_children = [nodes[child] for child in children]
    return nodes


def reachable(graph: dict[int, list[int]], root: int = 0) -> set[int]:
    seen, stack = {root}, [root]
    while stack:
        for child in graph[stack.pop()]:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def labels_of(result: Any, nodes: dict[Any, Any]) -> dict[str, Any]:
    """The labels of a returned sequence of nodes, or a description of what came back."""
    by_id = {id(node): label for label, node in nodes.items()}
    try:
        items = list(result)
    except TypeError:
        return {"not_a_list": returned(result)}
    return {"order": [by_id.get(id(item), None) for item in items], "type": type(result).__name__}


def expect_topological(
    observation: dict[str, Any],
    graph: dict[Any, list[Any]],
    root: Any,
    *,
    what: str,
    reverse: bool = False,
    node_word: str = "node",
) -> None:
    """The order holds each reachable node once, children before parents (or after, when reverse), root at the end (or start)."""
    if "not_a_list" in observation:
        expect_returned(observation["not_a_list"], what, f"a list of {node_word}s")
        raise CaseFailure(
            f"{what} returned a {observation['not_a_list'].get('type')}; it should return a list of {node_word}s."
        )
    order = observation["order"]
    if any(label is None for label in order):
        raise CaseFailure(f"{what} returned something that is not one of the graph's {node_word}s.")
    seen = [label for label in order]
    duplicates = sorted({label for label in seen if seen.count(label) > 1}, key=str)
    if duplicates:
        raise CaseFailure(
            f"{what} lists {node_word} {duplicates[0]} {seen.count(duplicates[0])} times; each {node_word} must appear once."
        )
    expected = reachable(graph, root)
    missing = sorted(expected - set(seen), key=str)
    if missing:
        raise CaseFailure(f"{what} leaves out {node_word} {missing[0]}, which is reachable from {root}.")
    extra = sorted(set(seen) - expected, key=str)
    if extra:
        raise CaseFailure(f"{what} includes {node_word} {extra[0]}, which cannot be reached from {root}.")
    position = {label: index for index, label in enumerate(order)}
    # When the whole list is the right answer backwards, say so.
    flipped = (
        ""
        if len(order) < 2 or order[0 if not reverse else -1] != root or not _ordered(order[::-1], graph, reverse)
        else (
            f" The whole list is in the opposite order: it should {'end' if not reverse else 'start'} with {root}"
            + (
                ". Did you forget to reverse it?"
                if reverse
                else ". Did you reverse it, or add each node before its children instead of after them?"
            )
        )
    )
    for parent, children in graph.items():
        if parent not in position:
            continue
        for child in children:
            if reverse and position[child] < position[parent]:
                raise CaseFailure(
                    f"{what} puts {node_word} {child} before {parent}, which was computed from it; "
                    f"every {node_word} must come before the {node_word}s it was computed from.{flipped}"
                )
            if not reverse and position[child] > position[parent]:
                raise CaseFailure(
                    f"{what} puts {node_word} {parent} before its child {child}; every {node_word} must come after all of its children.{flipped}"
                )
    end = order[0] if reverse else order[-1]
    if end != root:
        place = "first" if reverse else "last"
        raise CaseFailure(f"{what} should put {root} {place}, but {end} is {place}.")


def _ordered(order: list[Any], graph: dict[Any, list[Any]], reverse: bool) -> bool:
    """Does `order` put every child after (reverse) or before (not reverse) its parent?"""
    position = {label: index for index, label in enumerate(order)}
    return all(
        (position[child] > position[parent]) if reverse else (position[child] < position[parent])
        for parent, children in graph.items()
        if parent in position
        for child in children
        if child in position
    )


def sort_case(
    title: str,
    graph: dict[int, list[int]],
    *,
    what: str,
    node_type: type = Node,
    children: Callable[[Node], Any] = get_children,
    catch: bool = False,
    advice: str = "",
    raised_advice: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """A case sorting `graph` from node 0 with topological_sort(root, children).

    what: how messages name the call. node_type: the nodes' class (how they
    compare). catch: an exception is judged (with raised_advice's words, or
    advice's) instead of ending the probe. advice: added to every failure.
    """

    @probe("2.4", title)
    def sorting(student: Any) -> dict[str, Any]:
        nodes = build_nodes(graph, node_type)
        sort = student.part2_autograd.topological_sort
        if catch:
            outcome = attempt(sort, nodes[0], children)
            if "raised" in outcome:
                return outcome
        return labels_of(sort(nodes[0], children), nodes)

    @sorting.judge
    def judge_sorting(observation: dict[str, Any]) -> None:
        if "raised" in observation:
            error = observation["raised"]
            words = raised_advice(error) if raised_advice is not None else advice
            raise CaseFailure(
                f"{what} raised {error.get('type')}: {error.get('message')}{where_raised(error)}.{' ' + words if words else ''}"
            )
        try:
            expect_topological(observation, graph, 0, what=what)
        except CaseFailure as failure:
            if not advice:
                raise
            raise CaseFailure(f"{failure} {advice}", mistake=failure.mistake, size=failure.size) from None


for graph_name, graph in GRAPHS.items():
    sort_case(f"sorts {graph_name}", graph, what=f"topological_sort on {graph_name}")


class AllEqualNode(Node):
    """A node that says it equals every other node (hashed by identity, as a Tensor is)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node)

    __hash__ = Node.__hash__


def children_generator(node: Node) -> Any:
    """get_children as a generator: an iterable that can be walked once per call, with no len()."""
    return (child for child in node.hidden_children)


def children_tuple(node: Node) -> tuple[Node, ...]:
    return tuple(node.hidden_children)


# More than 256 nodes: CPython shares the int objects -5..256 only, so counts
# or lengths compared with `is` agree on small graphs and not on this one.
LARGE_GRAPH = random_dag(213, 300)


def compared_with_is(error: dict[str, Any]) -> str:
    """A ValueError (a cycle) on a graph without one: counts compared with `is`."""
    if "ValueError" not in error.get("bases", []):
        return ""
    return (
        "Do you compare counts or lengths with `is` or `is not`? Use == and !=: CPython shares the int "
        "objects up to 256 only, so two equal larger ints can be distinct objects."
    )


sort_case(
    "sorts a random graph of 300 nodes",
    LARGE_GRAPH,
    what="topological_sort on a random graph of 300 nodes (with no cycle)",
    catch=True,
    raised_advice=compared_with_is,
)


@probe("2.4", "sorting again after the graph grew")
def topological_again(student: Any) -> dict[str, Any]:
    graph = GRAPHS["a diamond"]
    nodes = build_nodes(graph)
    student.part2_autograd.topological_sort(nodes[0], get_children)
    # Each call sees the graph as it is now: nothing is remembered between calls.
    nodes[4] = Node(4)
    nodes[0].hidden_children.append(nodes[4])
    nodes[3].hidden_children.append(nodes[4])
    return labels_of(student.part2_autograd.topological_sort(nodes[0], get_children), nodes)


@topological_again.judge
def judge_topological_again(observation: dict[str, Any]) -> None:
    expect_topological(
        observation,
        {0: [1, 2, 4], 1: [3], 2: [3], 3: [4], 4: []},
        0,
        what="topological_sort called again on a diamond that has grown a node since the first call "
        "(nothing may be remembered between calls)",
    )


sort_case(
    "get_children may return a generator",
    GRAPHS["a random graph of 30 nodes"],
    children=children_generator,
    what="topological_sort with a get_children that returns a generator (any iterable is allowed)",
)
sort_case(
    "get_children may return a tuple",
    GRAPHS["a diamond"],
    children=children_tuple,
    what="topological_sort with a get_children that returns a tuple (any iterable is allowed)",
)
sort_case(
    "distinct nodes that say they are == are still distinct",
    GRAPHS["a diamond"],
    node_type=AllEqualNode,
    catch=True,
    what="topological_sort on a diamond of nodes whose == says every node is equal",
    advice="Two distinct nodes are two nodes, whatever their == says: compare them by identity "
    "(`is`, or id() as the key), not with == or `in` on a list.",
)
sort_case(
    "compares nodes by identity, not with ==",
    GRAPHS["a diamond"],
    node_type=TensorLikeNode,
    what="topological_sort on a diamond of nodes whose == is elementwise",
)


def cycle_case(name: str, graph: dict[int, list[int]]) -> None:
    @probe("2.4", f"raises ValueError on {name}")
    def case(student: Any) -> dict[str, Any]:
        nodes = build_nodes(graph)
        return attempt(student.part2_autograd.topological_sort, nodes[0], get_children)

    @case.judge
    def judge_cycle(observation: dict[str, Any]) -> None:
        try:
            expect_raised(observation, "ValueError", f"topological_sort on {name}")
        except CaseFailure as failure:
            raise CaseFailure(f"{failure}{CYCLE_HINTS.get(name, '') if 'returned' in observation else ''}") from None


for graph_name, graph in CYCLIC_GRAPHS.items():
    cycle_case(graph_name, graph)


# ---------------------------------------------------------------------------
# Tensor graphs built by hand (for 2.5 and 2.6)
#
# A graph spec is a list of leaves and a list of operations. Each operation
# is (function name, [input names], output name); inputs name leaves or
# earlier outputs, or are plain numbers.


SPEC_FUNCTIONS: dict[str, Callable] = {
    "log": np.log,
    "exp": np.exp,
    "negative": np.negative,
    "multiply": np.multiply,
    "add": np.add,
}


def evaluate(operations: list[tuple[str, list[Any], str]], values: dict[str, Any]) -> dict[str, Any]:
    """Run a spec forward on plain arrays (any dtype); returns every named value."""
    values = dict(values)
    for function, inputs, output in operations:
        arguments = [values[name] if isinstance(name, str) else name for name in inputs]
        values[output] = SPEC_FUNCTIONS[function](*arguments)
    return values


def build_tensor_graph(
    student: Any,
    leaves: dict[str, tuple[np.ndarray, bool]],
    operations: list[tuple[str, list[Any], str]],
    parents_of_all_tensors: bool = False,
) -> dict[str, Any]:
    """Make Tensors with recipes by hand, as a working wrap_forward_fn would.

    Parents are the inputs that require grad (or every Tensor input, with
    parents_of_all_tensors).
    """
    Tensor, Recipe = student.core.Tensor, student.core.Recipe
    tensors = {name: Tensor(values.copy(), requires_grad=grad) for name, (values, grad) in leaves.items()}
    for function, inputs, output in operations:
        operands = [tensors[name] if isinstance(name, str) else name for name in inputs]
        arrays = tuple(t.array if isinstance(t, Tensor) else t for t in operands)
        func = SPEC_FUNCTIONS[function]
        parents = {
            position: t
            for position, t in enumerate(operands)
            if isinstance(t, Tensor) and (t.requires_grad or parents_of_all_tensors)
        }
        requires_grad = any(isinstance(t, Tensor) and t.requires_grad for t in operands)
        result = Tensor(func(*arrays), requires_grad=requires_grad)
        if parents and requires_grad:
            result.recipe = Recipe(func=func, args=arrays, kwargs={}, parents=parents)
        tensors[output] = result
    return tensors


def spec_graph(operations: list[tuple[str, list[Any], str]]) -> dict[str, list[str]]:
    """name -> the names it was computed from (its recipe's parents)."""
    graph: dict[str, list[str]] = {}
    for _, inputs, output in operations:
        graph[output] = [name for name in inputs if isinstance(name, str)]
        for name in graph[output]:
            graph.setdefault(name, [])
    return graph


def leaf(name: int | str, shape: tuple[int, ...]) -> np.ndarray:
    """A leaf's values, drawn from the input named `name`: in [0.5, 2), safe for log."""
    return uniform(name, shape, 0.5, 2.0)


def random_spec(seed: int, size: int) -> tuple[dict[str, tuple[np.ndarray, bool]], list[tuple[str, list[Any], str]]]:
    """A random graph of adds and multiplies over four leaves, every node used."""
    generator = rng(seed)
    leaves = {f"l{i}": (leaf(seed + i, (2, 3)), True) for i in range(4)}
    names = list(leaves)
    operations = []
    for index in range(size):
        a, b = (names[int(i)] for i in generator.integers(0, len(names), size=2))
        if index < len(leaves):
            a = f"l{index}"  # whatever the draw, every leaf is an input of some operation
        function = "add" if generator.uniform() < 0.5 else "multiply"
        operations.append((function, [a, b], f"n{index}"))
        names.append(f"n{index}")
    # Tie every node into the end node so nothing dangles.
    total = names[4]
    for index, name in enumerate(names[5:]):
        operations.append(("add", [total, name], f"t{index}"))
        total = f"t{index}"
    return leaves, operations


# ---------------------------------------------------------------------------
# 2.5 sorted_computational_graph

# Promises of sorted_computational_graph's docstring, and the cases that check them:
# - the children are the recipe's parents, the tensor first, leaves included, reverse topological order: all cases

GRAPH_SPECS: dict[str, tuple[dict[str, tuple[np.ndarray, bool]], list[tuple[str, list[Any], str]]]] = {
    "a tensor with no recipe": ({"a": (leaf(221, (2, 3)), True)}, []),
    "log(a * b)": (
        {"a": (leaf(222, (2, 3)), True), "b": (leaf(223, (2, 3)), True)},
        [("multiply", ["a", "b"], "c"), ("log", ["c"], "d")],
    ),
    "a tensor used twice, a * a": ({"a": (leaf(224, (3,)), True)}, [("multiply", ["a", "a"], "b")]),
    "a reused intermediate": (
        {"a": (leaf(225, (2, 2)), True), "b": (leaf(226, (2, 2)), True)},
        [("multiply", ["a", "b"], "c"), ("log", ["c"], "d"), ("add", ["d", "c"], "e"), ("exp", ["e"], "f")],
    ),
    "a chain of 120 operations": (
        {"a": (leaf(227, (2,)), True)},
        [("multiply", ["a" if i == 0 else f"c{i - 1}", 1.001], f"c{i}") for i in range(120)],
    ),
    "a random graph": random_spec(228, 25),
}


def end_name(operations: list[tuple[str, list[Any], str]], leaves: dict[str, Any]) -> str:
    return operations[-1][2] if operations else next(iter(leaves))


def sorted_graph_case(name: str) -> None:
    leaves, operations = GRAPH_SPECS[name]

    @probe("2.5", f"orders {name}")
    def case(student: Any) -> dict[str, Any]:
        tensors = build_tensor_graph(student, leaves, operations)
        end = tensors[end_name(operations, leaves)]
        return labels_of(student.part2_autograd.sorted_computational_graph(end), tensors)

    @case.judge
    def judge_sorted_graph(observation: dict[str, Any]) -> None:
        graph = spec_graph(operations) if operations else {next(iter(leaves)): []}
        expect_topological(
            observation,
            graph,
            end_name(operations, leaves),
            what=f"sorted_computational_graph on {name}",
            reverse=True,
            node_word="tensor",
        )


for spec_name in GRAPH_SPECS:
    sorted_graph_case(spec_name)


# ---------------------------------------------------------------------------
# 2.6 backprop
#
# The student's backprop runs with known-good backward functions and a
# known-good sort in place of BACK_FUNCS and sorted_computational_graph, so
# only backprop itself is graded. The add backward function deliberately
# hands back the very array it received, to both operands: storing it
# without a copy, or adding into it in place, then shows.

# Promises of backprop's docstring, and the cases that check them:
# - fills .grad on every leaf that requires grad: "log(a * b), end_grad None", "log(a * b), a random end_grad",
#   "a leaf that does not require grad, a random end_grad",
#   "a leaf that does not require grad, a random end_grad, every Tensor input a parent"
# - end_grad None means ones shaped like end_node: "log(a * b), end_grad None", "a + b, end_grad None"
# - an end_grad given is used: every case named with a random end_grad;
#   "backward from a leaf sets its grad to a copy of end_grad"
# - a node's gradient is the sum over its children: "a tensor used twice, a * a + a, a random end_grad",
#   "a reused intermediate, a random end_grad"
# - back_fn(grad_out, node.array, *args, **kwargs): "keyword arguments reach the backward function: exp(a).sum(axis=0)"
# - add at a leaf, or set if None, so backward twice accumulates:
#   "log(a * b), a random end_grad, backward called 2 times",
#   "(a + b) + a, with a shared upstream array, a random end_grad, backward called 2 times",
#   "two graphs sharing a leaf: the second backward adds to the first"
# - never store an array something else holds, never modify such arrays:
#   "(a + b) + a, with a shared upstream array, a random end_grad",
#   "backward from a leaf sets its grad to a copy of end_grad"; and all cases compare end_grad and the leaves' arrays
#   before and after (expect_untouched)
# - leaf.grad is a Tensor: all cases (expect_grads)


def unbroadcast_given(gradient: Any, shape: tuple[int, ...]) -> np.ndarray:
    """sum_to_shape, except for a gradient with fewer dims than `shape`, handed back as it is.

    Only a wrong backprop passes one (it started from the number 1, not from
    ones shaped like end_node): the judge then names that mistake, where
    sum_to_shape would raise.
    """
    gradient = np.asarray(gradient)
    return gradient if gradient.ndim < len(shape) else sum_to_shape(gradient, shape)


def _add_back(grad_out: np.ndarray, out: np.ndarray, x: Any, y: Any, position: int) -> np.ndarray:
    shape = np.shape(x if position == 0 else y)
    return grad_out if shape == np.shape(grad_out) else unbroadcast_given(grad_out, shape)


KNOWN_GOOD_BACKWARD = {
    (np.log, 0): lambda g, out, x: g / x,
    (np.exp, 0): lambda g, out, x: g * out,
    (np.negative, 0): lambda g, out, x: -g,
    (np.multiply, 0): lambda g, out, x, y: unbroadcast_given(g * y, np.shape(x)),
    (np.multiply, 1): lambda g, out, x, y: unbroadcast_given(g * x, np.shape(y)),
    (np.add, 0): lambda g, out, x, y: _add_back(g, out, x, y, 0),
    (np.add, 1): lambda g, out, x, y: _add_back(g, out, x, y, 1),
    (np.sum, 0): lambda g, out, x, **kwargs: _sum_back(g, out, x, **kwargs),
}


class KeywordsNotPassed(TypeError):
    """Raised by the known-good backward function of np.sum when backprop did
    not pass on the recipe's keyword arguments: the judge knows it by its type."""


def _sum_back(g: np.ndarray, out: np.ndarray, x: np.ndarray, **kwargs: Any) -> np.ndarray:
    if "axis" not in kwargs:
        raise KeywordsNotPassed("the backward function of np.sum was called without the recipe's axis")
    return np.broadcast_to(np.expand_dims(g, kwargs["axis"]), np.shape(x)).copy()


class KnownGoodLookup:
    """Stands in for the student's BACK_FUNCS while backprop is graded on its own.

    It answers lookups from KNOWN_GOOD_BACKWARD but keeps nothing: a
    registration made meanwhile (functional.py is imported by the first
    Tensor operator, which may come inside the block) goes on to the
    student's own lookup, where it belongs.
    """

    def __init__(self, real: Any):
        self.real = real

    def add_back_func(self, forward_fn: Callable, arg_position: int, back_fn: Callable) -> None:
        self.real.add_back_func(forward_fn, arg_position, back_fn)

    def get_back_func(self, forward_fn: Callable, arg_position: int) -> Callable:
        return KNOWN_GOOD_BACKWARD[(forward_fn, arg_position)]


def known_good_sort(end: Any) -> list[Any]:
    """Reverse topological order over recipe parents, without recursion."""
    order, done, stack = [], set(), [(end, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in done:
            continue
        done.add(id(node))
        stack.append((node, True))
        parents = [] if node.recipe is None else list(node.recipe.parents.values())
        stack.extend((parent, False) for parent in parents if id(parent) not in done)
    return order[::-1]


class known_good_parts:
    """Put the known-good lookup and sort in the student's module for a block.

    Nothing swapped in may outlive the block: the student's own objects are
    put back, and a functional.py first imported inside the block (whose
    `from .part2_autograd import BACK_FUNCS` took the stand-in) is pointed
    back at the student's lookup. (Each case also starts from freshly
    imported modules, see observe.StudentPackage.fresh.)
    """

    def __init__(self, student: Any):
        self.student = student
        self.module = student.part2_autograd

    def __enter__(self) -> None:
        self.saved = {name: getattr(self.module, name, None) for name in ("BACK_FUNCS", "sorted_computational_graph")}
        self.stand_in = KnownGoodLookup(self.saved["BACK_FUNCS"])
        self.module.BACK_FUNCS = self.stand_in
        self.module.sorted_computational_graph = known_good_sort

    def __exit__(self, *exc_info: Any) -> None:
        for name, value in self.saved.items():
            setattr(self.module, name, value)
        functional = sys.modules.get(self.module.__name__.rsplit(".", 1)[0] + ".functional")
        if functional is not None and getattr(functional, "BACK_FUNCS", None) is self.stand_in:
            functional.BACK_FUNCS = self.saved["BACK_FUNCS"]


def describe_grads(student: Any, tensors: dict[str, Any], names: list[str]) -> dict[str, Any]:
    Tensor = student.core.Tensor
    grads: dict[str, Any] = {}
    for name in names:
        grad = tensors[name].grad
        if grad is None:
            grads[name] = None
        elif isinstance(grad, Tensor):
            grads[name] = returned(grad.array)
        else:
            grads[name] = {"not_tensor": returned(grad)}
    return grads


def grad_arrays(student: Any, tensors: dict[str, Any], names: list[str]) -> dict[str, np.ndarray]:
    Tensor = student.core.Tensor
    return {
        name: tensors[name].grad.array
        for name in names
        if isinstance(tensors[name].grad, Tensor) and isinstance(tensors[name].grad.array, np.ndarray)
    }


def expected_grads(
    leaves: dict[str, tuple[np.ndarray, bool]], operations: list, end: str, end_grad: np.ndarray | None, times: int = 1
) -> dict[str, np.ndarray | None]:
    """The gradient of sum(end * end_grad) with respect to each leaf, by central differences in float64."""
    values = {name: values.astype(np.float64) for name, (values, _) in leaves.items()}
    end_value = evaluate(operations, values)[end]
    weights = np.ones(np.shape(end_value)) if end_grad is None else end_grad.astype(np.float64)
    names = list(values)
    expected: dict[str, np.ndarray | None] = {}
    for position, name in enumerate(names):
        if not leaves[name][1]:
            expected[name] = None
            continue

        def end_of(*arrays: np.ndarray) -> np.ndarray:
            return evaluate(operations, dict(zip(names, arrays)))[end]

        expected[name] = times * numerical_vjp(end_of, [values[n] for n in names], position, weights)
    return expected


def expect_grads(
    observed: dict[str, Any],
    expected: dict[str, np.ndarray | None],
    what: str,
    mistakes: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Each leaf's .grad against its expected gradient (None: must stay None).

    mistakes: per leaf, known mistakes and the wrong answers they give (expect_array).
    """
    for name, value in expected.items():
        got = observed.get(name)
        if value is None:
            if got is not None:
                raise CaseFailure(
                    f"{what}: {name} does not require grad, so {name}.grad should stay None; backprop set it."
                )
            continue
        if got is None:
            raise CaseFailure(
                f"{what}: {name}.grad is None; backprop should have set it (it is a leaf that requires grad)."
            )
        if "not_tensor" in got:
            raise CaseFailure(
                f"{what}: {name}.grad is a {got['not_tensor'].get('type')}; it should be a Tensor holding the gradient."
            )
        expect_array(got, value, what=f"{what}: {name}.grad.array", mistakes=(mistakes or {}).get(name))


BACKPROP_SPECS: dict[str, tuple[dict[str, tuple[np.ndarray, bool]], list[tuple[str, list[Any], str]]]] = {
    "log(a * b)": GRAPH_SPECS["log(a * b)"],
    "a tensor used twice, a * a + a": (
        {"a": (leaf(231, (3,)), True)},
        [("multiply", ["a", "a"], "b"), ("add", ["b", "a"], "c")],
    ),
    "a reused intermediate": GRAPH_SPECS["a reused intermediate"],
    "broadcasting, a (3, 4) times b (4,)": (
        {"a": (leaf(232, (3, 4)), True), "b": (leaf(233, (4,)), True)},
        [("multiply", ["a", "b"], "c"), ("exp", ["c"], "d")],
    ),
    "a leaf that does not require grad": (
        {"a": (leaf(234, (2, 3)), True), "k": (leaf(235, (2, 3)), False)},
        [("multiply", ["a", "k"], "c"), ("log", ["c"], "d")],
    ),
    "(a + b) + a, with a shared upstream array": (
        {"a": (leaf(236, (2, 2)), True), "b": (leaf(237, (2, 2)), True)},
        [("add", ["a", "b"], "c"), ("add", ["c", "a"], "d")],
    ),
    "a chain of 120 operations": GRAPH_SPECS["a chain of 120 operations"],
    "a random graph": GRAPH_SPECS["a random graph"],
    # Nothing broadcasts here: a gradient that starts as the number 1 stays a number.
    "a + b": ({"a": (leaf(238, (2, 2)), True), "b": (leaf(239, (2, 2)), True)}, [("add", ["a", "b"], "c")]),
}


def backprop_case(name: str, *, with_end_grad: bool, times: int = 1, all_tensor_parents: bool = False) -> None:
    leaves, operations = BACKPROP_SPECS[name]
    end = end_name(operations, leaves)
    end_shape = np.shape(evaluate(operations, {n: v for n, (v, _) in leaves.items()})[end])
    title = f"{name}, {'a random end_grad' if with_end_grad else 'end_grad None'}"
    if times > 1:
        title += f", backward called {times} times"
    if all_tensor_parents:
        title += ", every Tensor input a parent"
    end_grad = normal(f"{title}: end_grad", end_shape) if with_end_grad else None

    @probe("2.6", title)
    def case(student: Any) -> dict[str, Any]:
        tensors = build_tensor_graph(student, leaves, operations, parents_of_all_tensors=all_tensor_parents)
        end_grad_tensor = student.core.Tensor(end_grad.copy()) if end_grad is not None else None
        before = {leaf_name: tensors[leaf_name].array.copy() for leaf_name in leaves}
        with known_good_parts(student):
            for _ in range(times):
                student.part2_autograd.backprop(tensors[end], end_grad_tensor)
        arrays = grad_arrays(student, tensors, list(leaves))
        shared = [
            [first, second]
            for index, first in enumerate(arrays)
            for second in list(arrays)[index + 1 :]
            if np.shares_memory(arrays[first], arrays[second])
        ]
        with_end_grad_buffer = [
            leaf_name
            for leaf_name, array in arrays.items()
            if end_grad_tensor is not None and np.shares_memory(array, end_grad_tensor.array)
        ]
        return {
            "grads": describe_grads(student, tensors, list(leaves)),
            "shared": shared,
            "shares_end_grad": with_end_grad_buffer,
            "end_grad": changed_inputs([end_grad], [end_grad_tensor.array], ["end_grad"])
            if end_grad is not None
            else [],
            "leaves": changed_inputs(
                list(before.values()), [tensors[leaf_name].array for leaf_name in leaves], list(leaves)
            ),
        }

    @case.judge
    def judge_backprop(observation: dict[str, Any]) -> None:
        what = f"backprop on {name}"
        expect_untouched({"mutated": observation["leaves"]}, f"{what} (backprop must only write .grad)")
        expect_untouched({"mutated": observation["end_grad"]}, f"{what} (never modify the end_grad you are given)")
        expected = expected_grads(leaves, operations, end, end_grad, times)
        if end_grad is None:
            for leaf_name, value in expected.items():
                got = observation["grads"].get(leaf_name)
                if value is not None and isinstance(got, dict) and got.get("shape") == [] and np.shape(value) != ():
                    raise CaseFailure(
                        f"{what}: {leaf_name}.grad is a single number, but {leaf_name} has shape {np.shape(value)}. "
                        "end_grad None means ones shaped like end_node (np.ones_like(end_node.array)), not the number 1."
                    )
        mistakes: dict[str, dict[str, Any]] = {}
        if end_grad is not None:
            # Starting from ones instead of end_grad is a classic slip.
            for leaf_name, value in expected_grads(leaves, operations, end, None, times).items():
                mistakes.setdefault(leaf_name, {})["as if end_grad were all ones (use the end_grad you are given)"] = (
                    value
                )
        if times > 1:
            for leaf_name, value in expected_grads(leaves, operations, end, end_grad, 1).items():
                mistakes.setdefault(leaf_name, {})[
                    "from one backward call only: the second call must add to .grad, not replace it"
                ] = value
        expect_grads(observation["grads"], expected, what, mistakes)
        if observation["shared"]:
            first, second = observation["shared"][0]
            raise CaseFailure(
                f"{what}: {first}.grad and {second}.grad share one array. A later in-place update of one (by "
                "another backward call or an optimiser) would change the other: store a copy in .grad."
            )
        if observation["shares_end_grad"]:
            raise CaseFailure(
                f"{what}: {observation['shares_end_grad'][0]}.grad shares its array with end_grad: store a copy."
            )


backprop_case("log(a * b)", with_end_grad=False)
backprop_case("log(a * b)", with_end_grad=True)
backprop_case("a tensor used twice, a * a + a", with_end_grad=True)
backprop_case("a reused intermediate", with_end_grad=True)
backprop_case("broadcasting, a (3, 4) times b (4,)", with_end_grad=True)
backprop_case("a leaf that does not require grad", with_end_grad=True)
backprop_case("a leaf that does not require grad", with_end_grad=True, all_tensor_parents=True)
backprop_case("(a + b) + a, with a shared upstream array", with_end_grad=True)
backprop_case("a + b", with_end_grad=False)
backprop_case("(a + b) + a, with a shared upstream array", with_end_grad=True, times=2)
backprop_case("log(a * b)", with_end_grad=True, times=2)
backprop_case("a chain of 120 operations", with_end_grad=True)
backprop_case("a random graph", with_end_grad=True)


SUM_LEAF = leaf(245, (3, 4))
SUM_END_GRAD = normal(246, (4,))


@probe("2.6", "keyword arguments reach the backward function: exp(a).sum(axis=0)")
def backprop_with_kwargs(student: Any) -> dict[str, Any]:
    Tensor, Recipe = student.core.Tensor, student.core.Recipe
    a = Tensor(SUM_LEAF.copy(), requires_grad=True)
    c = Tensor(np.exp(a.array), requires_grad=True)
    c.recipe = Recipe(func=np.exp, args=(a.array,), kwargs={}, parents={0: a})
    s = Tensor(np.sum(c.array, axis=0), requires_grad=True)
    s.recipe = Recipe(func=np.sum, args=(c.array,), kwargs={"axis": 0}, parents={0: c})
    with known_good_parts(student):
        outcome = attempt(student.part2_autograd.backprop, s, Tensor(SUM_END_GRAD.copy()))
    return {"outcome": outcome, "grads": describe_grads(student, {"a": a}, ["a"])}


@backprop_with_kwargs.judge
def judge_backprop_with_kwargs(observation: dict[str, Any]) -> None:
    raised = observation["outcome"].get("raised")
    if raised and raised.get("type") == KeywordsNotPassed.__name__:
        raise CaseFailure(
            f"backprop on s = exp(a).sum(axis=0) raised {raised.get('type')}: {raised.get('message')}. "
            "The backward function of sum needs the recipe's keyword arguments (axis=0): call it as "
            "back_fn(grad_out, node.array, *recipe.args, **recipe.kwargs)."
        )
    if raised:
        raise CaseFailure(f"backprop on s = exp(a).sum(axis=0) raised {raised.get('type')}: {raised.get('message')}")
    expected = np.exp(SUM_LEAF.astype(np.float64)) * SUM_END_GRAD.astype(np.float64)
    expect_grads(observation["grads"], {"a": expected}, "backprop on s = exp(a).sum(axis=0)")


LONE_LEAF, LONE_LEAF_END_GRAD = leaf(241, (2, 3)), normal(242, (2, 3))


@probe("2.6", "backward from a leaf sets its grad to a copy of end_grad")
def backprop_from_leaf(student: Any) -> dict[str, Any]:
    a = student.core.Tensor(LONE_LEAF.copy(), requires_grad=True)
    end_grad = student.core.Tensor(LONE_LEAF_END_GRAD.copy())
    with known_good_parts(student):
        student.part2_autograd.backprop(a, end_grad)
    shares = isinstance(a.grad, student.core.Tensor) and np.shares_memory(a.grad.array, end_grad.array)
    return {"grads": describe_grads(student, {"a": a}, ["a"]), "shares": bool(shares)}


@backprop_from_leaf.judge
def judge_backprop_from_leaf(observation: dict[str, Any]) -> None:
    expect_grads(
        observation["grads"],
        {"a": LONE_LEAF_END_GRAD.astype(np.float64)},
        "backprop(a, end_grad) on a leaf a",
        {
            "a": {
                "as if end_grad were all ones (use the end_grad you are given, also when end_node is a leaf)": np.ones(
                    (2, 3)
                )
            }
        },
    )
    if observation["shares"]:
        raise CaseFailure("backprop(a, end_grad) on a leaf stored end_grad's own array in a.grad: store a copy.")


SHARED_LEAVES = {"a": (leaf(243, (3,)), True), "b": (leaf(244, (3,)), True)}


@probe("2.6", "two graphs sharing a leaf: the second backward adds to the first")
def backprop_two_graphs(student: Any) -> dict[str, Any]:
    tensors = build_tensor_graph(student, SHARED_LEAVES, [("multiply", ["a", "b"], "c"), ("log", ["a"], "d")])
    with known_good_parts(student):
        student.part2_autograd.backprop(tensors["c"], None)
        student.part2_autograd.backprop(tensors["d"], None)
    return {"grads": describe_grads(student, tensors, ["a", "b"])}


@backprop_two_graphs.judge
def judge_backprop_two_graphs(observation: dict[str, Any]) -> None:
    a, b = (SHARED_LEAVES[name][0].astype(np.float64) for name in "ab")
    expect_grads(observation["grads"], {"a": b + 1 / a, "b": a}, "backprop on c = a * b, then on d = log(a)")
