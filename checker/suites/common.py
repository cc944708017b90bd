"""What the suites share: inputs, the oracle's helpers, messages, and case builders.

- Inputs: `normal`, `uniform` and `float32` give float32 arrays drawn from
  `seeds.rng`, named by a number or by the case's own name.
- The oracle's side: `sum_to_shape` (unbroadcast, done right, in float64).
- Reading observations: `as_array` (a Tensor seen as its array),
  `expect_returned` and `returned_none` (from numeric: the message for a
  forgotten `return`), `matches` (does a result equal a known wrong answer?
  numeric's tolerances, loosened as diagnose loosens them).
- Probes: `observe_call` calls a student function on copies of its inputs
  and reports its result and the inputs it changed.
- Case builders, fed one row of a suite's table at a time: `call_case` (a
  function's result against the oracle's answer) and `backward_case`, the
  most common test of the course: call a backward function on float32
  inputs, as the Tensor machinery would, and compare its result with a
  float64 numerical gradient of the forward NumPy function.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..cases import Case, CaseFailure, register
from ..numeric import ATOL, RTOL, expect_array, numerical_vjp, returned_none, values_match
from ..observe import attempt, returned, where_raised
from ..seeds import rng


def float32(values: Any) -> np.ndarray:
    """Test inputs are float32, like a Tensor's data; the oracle sees their exact float64 values."""
    return np.asarray(values, dtype=np.float32)


def input_number(name: int | str) -> int:
    """The number an input is drawn from (seeds.rng): given, or made from a
    name (a case's title, say), the same in every process and every run."""
    return name if isinstance(name, int) else zlib.crc32(name.encode())


def normal(name: int | str, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    """A float32 array of normal values, drawn from the input named `name`."""
    return float32(rng(input_number(name)).normal(scale=scale, size=shape))


def uniform(name: int | str, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """A float32 array of values uniform in [low, high), drawn from the input named `name`."""
    return float32(rng(input_number(name)).uniform(low, high, size=shape))


def sum_to_shape(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The oracle's unbroadcast: sum `values` (broadcast from `shape`) back down to `shape`."""
    values = np.asarray(values)
    shape = tuple(shape)
    values = values.sum(axis=tuple(range(values.ndim - len(shape))))
    stretched = tuple(dim for dim, size in enumerate(shape) if size == 1 and values.shape[dim] != 1)
    return values.sum(axis=stretched, keepdims=True).reshape(shape)


def as_array(observation: Any) -> Any:
    """A returned Tensor's observation, read as its array (expect_array compares arrays)."""
    if isinstance(observation, dict) and observation.get("kind") == "tensor":
        return dict(observation, kind="array")
    return observation


def expect_returned(observation: Any, what: str, should: str = "") -> None:
    """Fail with returned_none's message when the observed value is None."""
    if isinstance(observation, dict) and observation.get("type") == "NoneType":
        raise CaseFailure(returned_none(what, should))


class Check(NamedTuple):
    """One thing a judge checks: an entry of the observation and the value it should have.

    True, False and None are compared by identity (1 is not True), anything
    else with ==. The message, for when it has not, may quote the
    observation's entries and the judge's own fields by name ("{after!r}").
    mistake: the known mistake the message names, if it names one.
    """

    entry: str
    wanted: Any
    message: str
    mistake: str | None = None


def expect_each(observation: dict[str, Any], checks: list[Check], **fields: Any) -> None:
    """Fail with the message of the first check that does not hold."""
    for entry, wanted, message, mistake in checks:
        got = observation.get(entry)
        holds = got is wanted if wanted is None or isinstance(wanted, bool) else got == wanted
        if not holds:
            raise CaseFailure(message.format_map({**observation, **fields}), mistake=mistake)


def matches(got: Any, wrong: Any) -> bool:
    """Does a result equal a known wrong answer (same shape, every entry)?

    got: an array, or an observation holding one. The tolerances are
    numeric's, ten times looser, as diagnose uses them to name a known
    mistake: float32 slips must not hide which formula was used.
    """
    if isinstance(got, dict):
        if "values" not in got:
            return False
        got = got["values"]
    return values_match(
        np.asarray(got, dtype=np.float64), np.asarray(wrong, dtype=np.float64), rtol=RTOL * 10, atol=ATOL * 10
    )


def copies(values: Sequence[Any]) -> list[Any]:
    return [value.copy() if isinstance(value, np.ndarray) else value for value in values]


def observe_call(
    function: Callable[..., Any],
    args: Sequence[Any],
    names: Sequence[str],
    kwargs: dict[str, Any] | None = None,
    *,
    catch: bool = False,
) -> dict[str, Any]:
    """Probe side: call `function` on copies of `args`; what it returned, and which arrays it changed.

    catch: an exception is an observation too ({"raised": ...}), for a
    judge that can name the mistake behind it.
    """
    inputs = copies(args)
    if catch:
        outcome = attempt(function, *inputs, **(kwargs or {}))
        if "raised" in outcome:
            return {"raised": outcome["raised"]}
        result = outcome["returned"]
    else:
        result = returned(function(*inputs, **(kwargs or {})))
    return {"result": result, "mutated": changed_inputs(args, inputs, names)}


def changed_inputs(before: Sequence[Any], after: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    """The array arguments as they were before and after a call, as plain data.

    Runs in the child; the comparison is the judge's (expect_untouched), in
    the parent, where student code cannot patch it.
    """
    return [[name, old, new] for name, old, new in zip(names, before, after) if isinstance(old, np.ndarray)]


def expect_untouched(observation: dict[str, Any], what: str) -> None:
    changed = [
        name
        for name, old, new in observation.get("mutated") or []
        if np.shape(old) != np.shape(new) or not np.array_equal(old, new, equal_nan=True)
    ]
    if changed:
        names = ", ".join(str(name) for name in changed)
        raise CaseFailure(
            f"{what} changed its input {names} in place. Leave the arguments as they were: compute into new arrays."
        )


def expect_not_a_python_number(result: dict[str, Any], what: str) -> None:
    """A gradient is an array, also when it has a single entry.

    A Python float has no .copy(), no .shape and no dtype: code that takes a
    gradient (backprop, unbroadcast's callers) breaks on it later, far from
    the mistake.
    """
    if isinstance(result, dict) and result.get("kind") == "number":
        raise CaseFailure(
            f"{what} returned a Python {result.get('type')}, not a NumPy array. A gradient is an array even when it "
            "holds one number (shape ()): wrap it with np.asarray(...), or keep the NumPy result instead of "
            "converting it with float() or .item().",
            mistake="a Python number for a gradient",
        )


def call_case(
    exercise: str,
    name: str,
    *,
    module: str,
    function: str,
    args: Sequence[Any],
    arg_names: Sequence[str],
    expected: Callable[[], np.ndarray],
    what: str,
    broadcast_shape: tuple[int, ...] | None = None,
    mistakes: dict[str, Any] | None = None,
    check_first: Callable[[dict[str, Any]], None] | None = None,
) -> Case:
    """A case calling `module.function(*args)` and comparing its result with the oracle's.

    expected: computes the right answer in float64 (in the judge only).
    what: how messages name the call.
    mistakes: known wrong answers, as for expect_array.
    check_first: looks at the result before the comparison, to name a
    mistake that the comparison alone would only call a wrong shape or value.
    """

    def probe(student: Any) -> dict[str, Any]:
        return observe_call(getattr(getattr(student, module), function), args, arg_names)

    def judge_call(observation: dict[str, Any]) -> None:
        expect_untouched(observation, function)
        if check_first is not None:
            check_first(observation["result"])
        expect_array(observation["result"], expected(), what=what, broadcast_shape=broadcast_shape, mistakes=mistakes)

    return register(Case(exercise, name, probe, judge_call))


def backward_case(
    exercise: str,
    name: str,
    *,
    module: str,
    function: str,
    forward: Callable[..., Any],
    args: Sequence[Any],
    wrt: int,
    grad_out: np.ndarray | None = None,
    kwargs: dict[str, Any] | None = None,
    arg_names: Sequence[str] = ("x", "y"),
    seed: int | str | None = None,
    mistakes: dict[str, Any] | None = None,
    broadcasting: bool = True,
    explain_error: Callable[[dict[str, Any]], str] | None = None,
) -> Case:
    """A case calling `function(grad_out, out, *args, **kwargs)`; the gradient is for args[wrt].

    args: float32 arrays or plain Python numbers. grad_out defaults to a
    random normal array shaped like the output (never all ones), drawn from
    the input named `seed` (by default, the case's name).
    mistakes: known wrong formulas, {description: function}, each called
    like the backward function (grad_out, out, *args, **kwargs) on float64
    copies, only when a result is wrong. The description completes "it
    matches what you get ..." (see numeric.expect_array). Every backward
    function also gets the mistakes any of them can make: forgetting
    grad_out, using out for x, the other operand's formula.
    broadcasting: False for operations that do not broadcast (reshape,
    transpose, sum, indexing), so that a result shaped like out is not
    called "the broadcast shape".
    explain_error: for a function whose likely mistake shows as an
    exception (shapes that cannot line up), takes the exception as plain
    data and returns the words that name the mistake ('' when none fits).
    """
    kwargs = dict(kwargs or {})
    out = np.asarray(forward(*args, **kwargs))
    if grad_out is None:
        grad_out = normal(name if seed is None else seed, out.shape)
    names = ["grad_out", "out", *arg_names[: len(args)]]

    def probe(student: Any) -> dict[str, Any]:
        backward = getattr(getattr(student, module), function)
        return observe_call(backward, [grad_out, out, *args], names, kwargs, catch=explain_error is not None)

    shapes = ", ".join(
        f"{n}: {np.shape(a)}"
        if isinstance(a, np.ndarray)
        else f"{n}: the number {a}"
        if isinstance(a, (int, float))
        else f"{n}={a!r}"
        for n, a in zip(names[2:], args)
    )
    what = f"{function}(grad_out, out, {', '.join(names[2:])}{''.join(f', {k}={v!r}' for k, v in kwargs.items())}) with {shapes}"

    def judge_backward(observation: dict[str, Any]) -> None:
        if "raised" in observation:
            error = observation["raised"]
            explanation = explain_error(error) if explain_error is not None else ""
            raise CaseFailure(
                f"{what} raised {error.get('type')}: {error.get('message')}{where_raised(error)}."
                + (f" {explanation}" if explanation else ""),
                mistake=explanation or None,
            )
        expect_untouched(observation, function)
        expect_not_a_python_number(observation["result"], what)
        expected = numerical_vjp(forward, args, wrt, grad_out, kwargs)
        broadcast_shape = out.shape if broadcasting and out.shape != np.shape(args[wrt]) else None
        known = common_mistakes(forward, args, wrt, grad_out, out, kwargs, arg_names)
        for description, formula in (mistakes or {}).items():
            known[description] = lambda formula=formula: formula(*_float64_copies([grad_out, out, *args]), **kwargs)
        expect_array(observation["result"], expected, what=what, broadcast_shape=broadcast_shape, mistakes=known)

    return register(Case(exercise, name, probe, judge_backward))


def common_mistakes(
    forward: Callable[..., Any],
    args: Sequence[Any],
    wrt: int,
    grad_out: np.ndarray,
    out: np.ndarray,
    kwargs: dict[str, Any],
    arg_names: Sequence[str],
) -> dict[str, Callable[[], np.ndarray]]:
    """Wrong answers any backward function can give, computed only when a result is wrong."""
    mistakes: dict[str, Callable[[], np.ndarray]] = {
        "without multiplying by grad_out (forgot grad_out)": lambda: numerical_vjp(
            forward, args, wrt, np.ones_like(grad_out), kwargs
        ),
    }
    arrays = [position for position, arg in enumerate(args) if isinstance(arg, np.ndarray)]
    name = arg_names[wrt] if wrt < len(arg_names) else "x"
    if arrays == [wrt] and len(args) == 1 and out.shape == np.shape(args[wrt]):
        mistakes[f"with out in place of {name} (used out where {name} was meant)"] = lambda: numerical_vjp(
            forward, [out], 0, grad_out, kwargs
        )
    if wrt in arrays:
        for other in (position for position in arrays if position != wrt):
            other_name = arg_names[other] if other < len(arg_names) else "the other argument"
            mistakes[f"with the formula for {other_name} instead of {name}: the operands are swapped"] = (
                lambda other=other: _swapped_gradient(forward, args, wrt, other, grad_out, out, kwargs)
            )
    return mistakes


def _swapped_gradient(
    forward: Callable[..., Any],
    args: Sequence[Any],
    wrt: int,
    other: int,
    grad_out: np.ndarray,
    out: np.ndarray,
    kwargs: dict[str, Any],
) -> np.ndarray:
    """The other operand's gradient formula, summed to the shape of args[wrt].

    Computed at the broadcast shape, so that a swap shows even when the
    operands have different shapes.
    """
    stretched = [np.broadcast_to(arg, out.shape).copy() if isinstance(arg, np.ndarray) else arg for arg in args]
    return sum_to_shape(numerical_vjp(forward, stretched, other, grad_out, kwargs), np.shape(args[wrt]))


def _float64_copies(values: Sequence[Any]) -> list[Any]:
    return [np.array(value, dtype=np.float64) if isinstance(value, np.ndarray) else value for value in values]
