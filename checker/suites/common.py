"""Case builders shared by the suites.

`backward_case` covers the most common test of the course: call a backward
function on float32 inputs, as the Tensor machinery would, and compare its
result with a float64 numerical gradient of the forward NumPy function.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..cases import Case, CaseFailure, register
from ..numeric import expect_array, numerical_vjp
from ..observe import returned


def float32(values: Any) -> np.ndarray:
    """Test inputs are float32, like a Tensor's data; the oracle sees their exact float64 values."""
    return np.asarray(values, dtype=np.float32)


def copies(values: Sequence[Any]) -> list[Any]:
    return [value.copy() if isinstance(value, np.ndarray) else value for value in values]


def changed_inputs(before: Sequence[Any], after: Sequence[Any], names: Sequence[str]) -> list[str]:
    """Names of the array arguments whose contents a call changed."""
    return [
        name
        for name, old, new in zip(names, before, after)
        if isinstance(old, np.ndarray) and (old.shape != new.shape or not np.array_equal(old, new, equal_nan=True))
    ]


def expect_untouched(observation: dict[str, Any], what: str) -> None:
    mutated = observation.get("mutated") or []
    if mutated:
        names = ", ".join(str(name) for name in mutated)
        raise CaseFailure(f"{what} changed its input {names} in place. A backward function must leave its arguments as they were.")


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
    seed: int = 0,
) -> Case:
    """A case calling `function(grad_out, out, *args, **kwargs)`; the gradient is for args[wrt].

    args: float32 arrays or plain Python numbers. grad_out defaults to a
    random normal array shaped like the output (never all ones).
    """
    kwargs = dict(kwargs or {})
    out = np.asarray(forward(*args, **kwargs))
    if grad_out is None:
        grad_out = float32(np.random.default_rng(seed).normal(size=out.shape))
    names = ["grad_out", "out", *arg_names[: len(args)]]

    def probe(student: Any) -> dict[str, Any]:
        inputs = [grad_out.copy(), out.copy(), *copies(args)]
        backward = getattr(getattr(student, module), function)
        result = backward(*inputs, **kwargs)
        return {
            "result": returned(result),
            "mutated": changed_inputs([grad_out, out, *args], inputs, names),
        }

    shapes = ", ".join(f"{n}: {np.shape(a)}" if isinstance(a, np.ndarray) else f"{n}: the number {a}" for n, a in zip(names[2:], args))
    what = f"{function}(grad_out, out, {', '.join(names[2:])}{''.join(f', {k}={v!r}' for k, v in kwargs.items())}) with {shapes}"

    def judge(observation: dict[str, Any]) -> None:
        expect_untouched(observation, function)
        expected = numerical_vjp(forward, args, wrt, grad_out, kwargs)
        broadcast_shape = out.shape if out.shape != np.shape(args[wrt]) else None
        expect_array(observation["result"], expected, what=what, broadcast_shape=broadcast_shape)

    return register(Case(exercise, name, probe, judge))
